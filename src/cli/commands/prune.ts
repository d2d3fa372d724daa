/** `qnb prune [--keep-last N] [--keep-daily D --keep-weekly W --keep-monthly M] [--gfs] [--dry-run]` */
import { ConfigError } from '../../core/errors.js';
import type { RetentionPolicy } from '../../core/retention.js';
import { describePolicy } from '../../core/retention.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderPrune } from '../render/text.js';

/** Options of prune. */
export interface PruneFlags {
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  gfs?: boolean;
  dryRun?: boolean;
}

function count(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${flag}: "${raw}" is not a whole number ≥ 0`, `e.g. ${flag} 4`);
  return n;
}

export async function runPrune(ctx: CommandContext, flags: PruneFlags): Promise<number> {
  const gfs = flags.gfs ? { keepDaily: 5, keepWeekly: 4, keepMonthly: 3 } : {};
  const policy: RetentionPolicy = {
    keepLast: ctx.loaded.config.keepLast,
    ...gfs,
    ...(flags.keepDaily !== undefined ? { keepDaily: count('--keep-daily', flags.keepDaily) } : {}),
    ...(flags.keepWeekly !== undefined ? { keepWeekly: count('--keep-weekly', flags.keepWeekly) } : {}),
    ...(flags.keepMonthly !== undefined ? { keepMonthly: count('--keep-monthly', flags.keepMonthly) } : {}),
  };
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.prune({ policy, dryRun: Boolean(flags.dryRun) });
    if (ctx.json) printJson(ctx, { ok: true, policy, ...result });
    else for (const l of renderPrune(result, describePolicy(policy))) ctx.out(l);
    return EXIT.OK;
  } finally {
    await done();
  }
}
