/** `qnb verify [--deep] [SET|FILE]` — re-hash files against their manifests; --deep adds a restore drill. */

import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderVerify } from '../render/text.js';

export async function runVerify(
  ctx: CommandContext,
  selector: string | undefined,
  flags: { deep?: boolean } = {},
): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.verify(selector, { deep: Boolean(flags.deep) });
    if (ctx.json) printJson(ctx, result);
    else for (const l of renderVerify(result)) ctx.out(l);
    return result.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  } finally {
    await done();
  }
}
