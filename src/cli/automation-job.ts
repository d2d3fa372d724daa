/**
 * What `schedule`, `watch` and `run` share: the `--copy-to` destination opened once, a
 * timestamped log on stdout, a progress reporter on stderr (timestamped and never a TTY bar for
 * the long-running commands; as a person sees it for `run`), and the backup job.
 */
import { createBackupJob, timestamped } from '../schedule/job.js';
import { openCopyTo } from './destination.js';
import type { CommandContext } from './io.js';
import { createCliReporter } from './render/progress.js';

/** Opens the long-running command's job (a bad `--copy-to` fails here, before anything runs). */
export async function openAutomationJob(
  ctx: CommandContext,
  copyToFlag: string | undefined,
  opts: { interactive?: boolean } = {},
) {
  const copyTo = await openCopyTo(ctx, copyToFlag);
  const log = timestamped(ctx.out);
  const reporter = createCliReporter(opts.interactive ? ctx.err : timestamped(ctx.err), {
    tty: opts.interactive === true && ctx.io.isTTY && !ctx.json,
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
