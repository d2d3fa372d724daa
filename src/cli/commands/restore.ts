/** `qnb restore [SET|--latest] [--yes] [--force]` — both stores back to the same point. */
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderRestoreSet } from '../render/text.js';

/** Options of restore. */
export interface RestoreFlags {
  latest?: boolean;
  yes?: boolean;
  force?: boolean;
}

export async function runRestore(
  ctx: CommandContext,
  setId: string | undefined,
  flags: RestoreFlags,
): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.restoreSet({ ...flags, ...(setId ? { setId } : {}) });
    if (ctx.json) printJson(ctx, result);
    else for (const l of renderRestoreSet(result)) ctx.out(l);
    return result.ok ? EXIT.OK : EXIT.FAILED;
  } finally {
    await done();
  }
}
