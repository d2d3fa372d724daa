/** `qnb restore-neo4j [FILE|--latest] [--yes] [--force]` */
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderNeo4jRestore } from '../render/text.js';

/** Options of restore-neo4j. */
export interface RestoreNeo4jFlags {
  latest?: boolean;
  yes?: boolean;
  force?: boolean;
}

export async function runRestoreNeo4j(
  ctx: CommandContext,
  file: string | undefined,
  flags: RestoreNeo4jFlags,
): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.restoreNeo4j({ ...flags, ...(file ? { file } : {}), cwd: ctx.io.cwd });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else for (const l of renderNeo4jRestore(result)) ctx.out(l);
    return EXIT.OK;
  } finally {
    await done();
  }
}
