/**
 * What `schedule` and `watch` share: the `--copy-to` destination opened once, a timestamped log
 * on stdout, a non-TTY progress reporter on stderr, and the backup job they run again and again.
 */
import { createBackupJob, timestamped } from '../schedule/job.js';
import { openCopyTo } from './destination.js';
import type { CommandContext } from './io.js';
import { createCliReporter } from './render/progress.js';

/** Opens the long-running command's job (a bad `--copy-to` fails here, before anything runs). */
export async function openAutomationJob(ctx: CommandContext, copyToFlag: string | undefined) {
  const copyTo = await openCopyTo(ctx, copyToFlag);
  const log = timestamped(ctx.out);
  const reporter = createCliReporter(timestamped(ctx.err), {
    tty: false,
    quiet: ctx.json,
    stream: ctx.io.stderr,
  });
  const job = createBackupJob(ctx.loaded.config, {
    onEvent: (e) => reporter.emit(e),
    signal: ctx.io.signal,
    redact: ctx.redact,
    cwd: ctx.io.cwd,
    ...(copyTo ? { copyTo } : {}),
  });
  return { copyTo, log, reporter, job };
}
