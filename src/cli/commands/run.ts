/**
 * `qnb run [--skip-neo4j] [--skip-qdrant] [--copy-to TARGET] -- CMD ARGS…` — back up (backup-all,
 * reason `pre-command`; with `--copy-to`, copied off-site too), then run a risky command (index
 * rebuild, migration) only if the backup set is `ok`, its copy succeeded and `hooks.afterSet` did
 * not fail, and exit with the command's status. qnb's own output goes to stderr so the command's
 * stdout stays its own. Retention keeps the newest pre-command backup whatever the policy says.
 */

import type { Command } from '@commander-js/extra-typings';
import { backupSucceeded, copyFailure } from '../../core/backup-copy.js';
import { QnbError } from '../../core/errors.js';
import { runCommand } from '../../schedule/guarded-run.js';
import { openAutomationJob } from '../automation-job.js';
import type { CommandHost } from '../command.js';
import { exitCodeForBackup } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { afterSetFailureLine } from '../manager-for.js';
import { renderBackup } from '../render/text.js';

/** Options of run. */
export interface RunFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** A folder or s3://bucket/prefix the backup is copied to before CMD runs. */
  copyTo?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('run')
    .description('back up, then run a risky command only if the backup is ok: qnb run -- CMD ARGS…')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option(
      '--copy-to <target>',
      'copy the backup to a folder or s3://bucket/prefix too; CMD runs only if it worked',
    )
    .action((command, opts) => host.setResult(runRun(host.context(), command, opts)));
}

export async function runRun(ctx: CommandContext, argv: string[], flags: RunFlags): Promise<number> {
  const [cmd, ...args] = argv;
  if (!cmd)
    throw new QnbError('E_USAGE', 'run: no command given', {
      hint: 'qnb run -- CMD ARGS…, e.g. qnb run -- make reindex',
    });
  const { reporter, job } = await openAutomationJob(ctx, flags.copyTo, { interactive: true });
  let result: Awaited<ReturnType<typeof job.run>>;
  try {
    result = await job.run({
      command: `run: ${cmd}`,
      reason: 'pre-command',
      skipNeo4j: flags.skipNeo4j,
      skipQdrant: flags.skipQdrant,
    });
  } finally {
    reporter.stop();
    await job.close();
  }
  // stdout belongs to the command: the backup report goes to stderr
  if (ctx.json) ctx.err(JSON.stringify({ ok: backupSucceeded(result), ...result }));
  else
    for (const l of renderBackup(result, (rel) => job.manager.repository.resolve(rel), ctx.io.cwd))
      ctx.err(l);
  if (result.status !== 'ok') {
    const first = result.errors[0];
    const why = first ? `: ${first.target} (${first.name}): ${first.message}` : '';
    ctx.err(`✘ backup set ${result.setId} is ${result.status}${why} — not running ${cmd}`);
    return exitCodeForBackup(result);
  }
  // the off-site copy was asked for as part of the safety net: without it, CMD does not run
  const copyFailed = copyFailure(result.copy);
  if (copyFailed) {
    ctx.err(
      `✘ backup set ${result.setId} is only local, its copy failed: ${copyFailed.message} — not running ${cmd}`,
    );
    return exitCodeForBackup(result);
  }
  // the data is good, but the writers may still be paused: the run failed, CMD does not run
  const afterSet = afterSetFailureLine(result);
  if (afterSet) {
    ctx.err(`${afterSet} — not running ${cmd}`);
    return exitCodeForBackup(result);
  }
  ctx.err(`• backup set ${result.setId} ok — running ${cmd}`);
  const outcome = await runCommand(cmd, args, {
    cwd: ctx.io.cwd,
    env: ctx.io.env,
    stdout: ctx.io.stdout,
    stderr: ctx.io.stderr,
    signal: ctx.io.signal,
  });
  if (outcome.kind === 'not-started') ctx.err(`✘ run: ${outcome.message}`);
  else if (outcome.kind === 'signaled') ctx.err(`• ${cmd} was ended by ${outcome.signal}`);
  return outcome.code;
}
