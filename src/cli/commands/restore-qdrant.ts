/** `qnb restore-qdrant [FILE|--latest] [--collection C] [--as NEW] [--yes] [--force]` */

import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderRestore } from '../render/text.js';

/** Options of restore-qdrant. */
export interface RestoreQdrantFlags {
  latest?: boolean;
  collection?: string;
  as?: string;
  yes?: boolean;
  force?: boolean;
  dryRun?: boolean;
}

export async function runRestoreQdrant(
  ctx: CommandContext,
  file: string | undefined,
  flags: RestoreQdrantFlags,
): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.restoreQdrant({ ...flags, ...(file ? { file } : {}), cwd: ctx.io.cwd });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else for (const l of renderRestore(result)) ctx.out(l);
    return EXIT.OK;
  } finally {
    await done();
  }
}
