/**
 * `qnb schedule [--cron EXPR] [--tz ZONE] [--skip-neo4j] [--skip-qdrant] [--copy-to TARGET]` — a
 * long-running scheduler for a service or a container. Every tick runs the backup-all pipeline
 * (with the off-site copy when `--copy-to` is given, retention and the monitoring hooks). Overrun-safe: while a backup runs — ours, or another qnb's
 * holding the lock — a tick is skipped and logged. SIGINT/SIGTERM stop it: the running backup is
 * interrupted through the signal (its leftovers cleaned), then it exits 130; when idle, 0.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from '@commander-js/extra-typings';
import { Cron } from 'croner';
import { toQnbError } from '../../core/errors.js';
import { displayTime, formatDuration } from '../../core/time.js';
import { parseScheduleCron } from '../../schedule/cron.js';
import { keySource } from '../../schedule/cron-source.js';
import { openAutomationJob } from '../automation-job.js';
import { aborted, COPY_TO_HELP, type CommandHost } from '../command.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderBackup, runSummary } from '../render/text.js';

/** Options of schedule. */
export interface ScheduleFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** A folder or s3://bucket/prefix every run copies to (retention only after the copy worked). */
  copyTo?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('schedule')
    .description('long-running scheduler: backup-all on a cron schedule (default daily 02:00), for a service')
    .option(
      '--cron <expr>',
      'cron expression, 5 fields or 6 with seconds (env QNB_CRON, default "0 2 * * *")',
    )
    .option('--tz <zone>', 'IANA time zone of the schedule (env QNB_TZ, default: local)')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', COPY_TO_HELP)
    .action((opts) =>
      host.setResult(runSchedule(host.context({ '--cron': opts.cron, '--tz': opts.tz }), opts)),
    );
}

/** Start-up recovery tries for the lock this many times, a minute apart (past its 30 min staleness). */
const RECOVERY_ATTEMPTS = 40;

export async function runSchedule(ctx: CommandContext, flags: ScheduleFlags): Promise<number> {
  const { automation } = ctx.loaded.config;
  const expr = automation.cron.trim();
  // a bad expression is a configuration error before anything runs
  parseScheduleCron(expr, keySource(ctx.loaded, 'automation.cron'), automation.timeZone);
  const { copyTo, log, reporter, job } = await openAutomationJob(ctx, flags.copyTo);
  const zone = automation.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  let running: Promise<void> | undefined;
  let runStarted = 0;
  let runs = 0;
  let interrupted = false;

  // the recovery at start while it holds the lock: the first run waits for it instead of
  // finding the lock taken by its own process and being skipped
  let recovering: Promise<unknown> | undefined;

  async function once(n: number): Promise<void> {
    log(`run ${n}: backup-all started`);
    try {
      await recovering?.catch(() => {});
      const r = await job.run({
        command: 'backup-all (schedule)',
        skipNeo4j: flags.skipNeo4j,
        skipQdrant: flags.skipQdrant,
      });
      if (ctx.json) ctx.out(JSON.stringify({ at: new Date().toISOString(), run: n, ...r }));
      else for (const l of renderBackup(r, (rel) => job.manager.repository.resolve(rel), ctx.io.cwd)) log(l);
      log(`run ${n}: ${runSummary(r)}`);
    } catch (err) {
      const e = toQnbError(err, ctx.io.signal);
      if (e.code === 'E_LOCKED') log(`run ${n}: skipped — ${e.message}`);
      else if (e.code === 'E_INTERRUPTED') {
        interrupted = true;
        log(`run ${n}: interrupted`);
      } else log(`run ${n}: failed — ${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
    }
  }

  const cron = new Cron(
    expr,
    { mode: '5-or-6-parts', ...(automation.timeZone ? { timezone: zone } : {}) },
    () => {
      if (ctx.io.signal.aborted) return;
      if (running) {
        log(
          `skipped: the previous run is still going (started ${formatDuration(Date.now() - runStarted)} ago)`,
        );
        return;
      }
      runStarted = Date.now();
      running = once(++runs).finally(() => {
        running = undefined;
        const next = cron.nextRun();
        if (next && !ctx.io.signal.aborted) log(`next run: ${displayTime(next)}`);
      });
    },
  );
  const first = cron.nextRun();
  log(
    `qnb schedule: "${expr}" (${zone}), backup-all${flags.skipNeo4j ? ' --skip-neo4j' : ''}${flags.skipQdrant ? ' --skip-qdrant' : ''}${copyTo ? ` --copy-to ${copyTo.name}` : ''}; next run ${first ? displayTime(first) : 'never'}; stop with Ctrl-C or SIGTERM`,
  );
  // a restarted sidecar (or service): what the killed run left — Neo4j stopped, temp files — is
  // repaired now, not at the next tick. A lock held elsewhere is waited for, once a minute, until
  // the first scheduled run (which recovers itself): a live holder finishes its own work, and the
  // lock of a sidecar killed and recreated by compose is taken over once it stops being refreshed
  const recovery = (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        recovering = job.manager.recover();
        await recovering;
        return;
      } catch (err) {
        const e = toQnbError(err, ctx.io.signal);
        if (e.code === 'E_LOCKED' && attempt < RECOVERY_ATTEMPTS && runs === 0 && !ctx.io.signal.aborted) {
          if (attempt === 1) log(`recovery at start waits for the lock (once a minute) — ${e.message}`);
          await sleep(60_000, undefined, { signal: ctx.io.signal }).catch(() => {});
          continue;
        }
        if (e.code !== 'E_LOCKED' && e.code !== 'E_INTERRUPTED')
          log(`recovery at start failed — ${e.message}${e.hint ? ` — ${e.hint}` : ''}`);
        return;
      } finally {
        recovering = undefined;
      }
    }
  })();
  try {
    await aborted(ctx.io.signal);
    cron.stop();
    log(running ? 'stopping: interrupting the running backup…' : 'stopping: no backup running');
    await running;
  } finally {
    await recovery;
    cron.stop();
    reporter.stop();
    await job.close();
  }
  log(`stopped after ${runs} run(s)`);
  return interrupted ? EXIT.INTERRUPTED : EXIT.OK;
}
