/**
 * `qnb prune [--keep-last N] [--keep-daily D --keep-weekly W --keep-monthly M] [--gfs] [--dry-run]
 * [--remote DESTINATION]` — retention in the backups folder, or on a copy destination.
 */
import type { Command } from '@commander-js/extra-typings';
import { ConfigError } from '../../core/errors.js';
import type { RetentionPolicy } from '../../core/retention.js';
import { describePolicy } from '../../core/retention.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderPrune } from '../render/text.js';

/** Options of prune. */
export interface PruneFlags {
  keepDaily?: string;
  keepWeekly?: string;
  keepMonthly?: string;
  gfs?: boolean;
  dryRun?: boolean;
  /** Prune this copy destination instead of the backups folder. */
  remote?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('prune')
    .description('delete old backups by policy; never a target’s newest valid backup, never unknown files')
    .option('--keep-last <n>', 'keep the N newest backups per target (default: QNB_KEEP_LAST or 5)')
    .option('--keep-daily <n>', 'keep the newest backup of each of the last N days')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last N weeks')
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last N months')
    .option('--gfs', 'grandfather-father-son defaults: 5 daily, 4 weekly, 3 monthly')
    .option('--dry-run', 'show what would be deleted, delete nothing')
    .option('--remote <target>', 'prune a copy target (folder or s3://bucket/prefix) instead')
    .action((opts) => host.setResult(runPrune(host.context({ '--keep-last': opts.keepLast }), opts)));
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
  const remote = flags.remote ? { raw: flags.remote, flag: '--remote' } : undefined;
  return withManager(ctx, remote, async (manager, backend) => {
    const opts = { policy, dryRun: Boolean(flags.dryRun) };
    if (backend) {
      const result = await manager.pruneRemote(backend, opts);
      if (ctx.json) printJson(ctx, { ok: true, target: backend.name, policy, ...result });
      else for (const l of renderPrune(result, `${describePolicy(policy)} on ${backend.name}`)) ctx.out(l);
      return EXIT.OK;
    }
    const result = await manager.prune(opts);
    if (ctx.json) printJson(ctx, { ok: true, policy, ...result });
    else for (const l of renderPrune(result, describePolicy(policy))) ctx.out(l);
    return EXIT.OK;
  });
}
