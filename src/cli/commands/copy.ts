/**
 * `qnb copy [--to DESTINATION] [--dry-run]` — copies the backup sets a destination lacks.
 * (`--copy-to` of backup-all, schedule, watch, run: src/core/backup-copy.ts, in backupAll;
 * `--from`/`--remote` of the other commands: in their own files.)
 */
import type { Command } from '@commander-js/extra-typings';
import type { BackupManager } from '../../core/manager.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderCopy } from '../render/offsite.js';

export function register(program: Command, host: CommandHost): void {
  program
    .command('copy')
    .description('copy backup sets that are not there yet to a folder or S3, verified by sha256')
    .option('--to <target>', 'a folder (external drive) or s3://bucket/prefix (env QNB_COPY_TO)')
    .option('--dry-run', 'show what would be sent, send nothing')
    .action((opts) => host.setResult(runCopy(host.context(), opts)));
}

/** Prints the copy report; returns its exit status. */
function reportCopy(
  ctx: CommandContext,
  report: Awaited<ReturnType<BackupManager['copy']>>,
  print: (l: string) => void,
) {
  for (const l of renderCopy(report)) print(l);
  const failed = report.sets.find((s) => s.action === 'failed');
  if (!failed?.error) return EXIT.OK;
  ctx.err(`✘ ${failed.error.message}${failed.error.hint ? ` — ${failed.error.hint}` : ''}`);
  return exitCodeFor(failed.error.code);
}

/** `qnb copy [--to DESTINATION] [--dry-run]` */
export async function runCopy(
  ctx: CommandContext,
  flags: { to?: string; dryRun?: boolean },
): Promise<number> {
  return withManager(ctx, { raw: flags.to, flag: '--to' }, async (manager, backend) => {
    const report = await manager.copy(backend!, { dryRun: Boolean(flags.dryRun) });
    if (ctx.json) {
      printJson(ctx, report);
      const failed = report.sets.find((s) => s.action === 'failed');
      return failed?.error ? exitCodeFor(failed.error.code) : EXIT.OK;
    }
    return reportCopy(ctx, report, (l) => ctx.out(l));
  });
}
