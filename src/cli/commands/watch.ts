/**
 * `qnb watch PATH [--debounce 30s] [--cooldown 1h] [--skip-neo4j] [--skip-qdrant] [--copy-to T]`
 * — backs up (and copies off-site with `--copy-to`) when a file (the seed's `zotero.sqlite`) changes: bursts merge, at most one backup per
 * cooldown, a change during the cooldown or during a backup is kept for one backup after it, and
 * a file replaced by rename is still seen. SIGINT/SIGTERM stop it (130 if a backup was cut short).
 */
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { Command } from '@commander-js/extra-typings';
import { NotFoundError, toQnbError } from '../../core/errors.js';
import { formatDuration } from '../../core/time.js';
import { type AttemptOutcome, createChangeGate, watchFile } from '../../schedule/watch.js';
import { openAutomationJob } from '../automation-job.js';
import { aborted, COPY_TO_HELP, type CommandHost } from '../command.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderBackup, runSummary } from '../render/text.js';

/** Options of watch. */
export interface WatchFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** A folder or s3://bucket/prefix every backup copies to (retention only after the copy worked). */
  copyTo?: string;
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('watch')
    .description('back up when a file (e.g. zotero.sqlite) changes, at most once per cooldown')
    .argument('<path>', 'file to watch')
    .option(
      '--debounce <duration>',
      'quiet time that ends a burst of changes (env QNB_WATCH_DEBOUNCE, default 30s)',
    )
    .option('--cooldown <duration>', 'least time between two backups (env QNB_WATCH_COOLDOWN, default 1h)')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', COPY_TO_HELP)
    .action((path, opts) =>
      host.setResult(
        runWatch(host.context({ '--debounce': opts.debounce, '--cooldown': opts.cooldown }), path, opts),
      ),
    );
}

export async function runWatch(ctx: CommandContext, path: string, flags: WatchFlags): Promise<number> {
  const { cooldown } = ctx.loaded.config.automation;
  // chokidar drops a second change of a file within 50 ms: a longer debounce makes sure the
  // backup starts after any change it dropped
  const debounce = Math.max(ctx.loaded.config.automation.debounce, 100);
  const file = resolve(ctx.io.cwd, path);
  if (await isDir(file))
    throw new NotFoundError(
      `watch ${path}: is a folder`,
      'pass the file to watch, e.g. ~/Zotero/zotero.sqlite',
    );
  if (!(await isDir(dirname(file))))
    throw new NotFoundError(`watch ${path}: folder ${dirname(file)} does not exist`, 'check the path');
  const { log, reporter, job } = await openAutomationJob(ctx, flags.copyTo);
  let runs = 0;
  let interrupted = false;

  async function backup(): Promise<AttemptOutcome> {
    const n = ++runs;
    log(`backup ${n}: ${basename(file)} changed — backup-all started`);
    try {
      const r = await job.run({
        command: `backup-all (watch ${basename(file)})`,
        skipNeo4j: flags.skipNeo4j,
        skipQdrant: flags.skipQdrant,
      });
      if (ctx.json) ctx.out(JSON.stringify({ at: new Date().toISOString(), run: n, ...r }));
      else for (const l of renderBackup(r, (rel) => job.manager.repository.resolve(rel), ctx.io.cwd)) log(l);
      log(`backup ${n}: ${runSummary(r)}`);
      return 'done';
    } catch (err) {
      const e = toQnbError(err, ctx.io.signal);
      if (e.code === 'E_LOCKED') {
        runs--;
        log(`backup ${n}: skipped — ${e.message}`);
        return 'retry';
      }
      if (e.code === 'E_INTERRUPTED') interrupted = true;
      log(`backup ${n}: ${e.code === 'E_INTERRUPTED' ? 'interrupted' : `failed — ${e.message}`}`);
      return 'done';
    }
  }

  const gate = createChangeGate({ debounceMs: debounce, cooldownMs: cooldown, run: backup, log });
  let watcher: Awaited<ReturnType<typeof watchFile>> | undefined;
  try {
    watcher = await watchFile(file, {
      onChange: () => gate.poke(),
      onRemove: () => log(`${basename(file)} was removed; waiting for it to come back`),
      onError: (e) => log(`watch error: ${e.message}`),
    });
    const exists = await stat(file).then(
      () => true,
      () => false,
    );
    log(
      `watching ${file}${exists ? '' : ' (does not exist yet)'} — debounce ${formatDuration(debounce)}, cooldown ${formatDuration(cooldown)}; stop with Ctrl-C or SIGTERM`,
    );
    await aborted(ctx.io.signal);
    log(gate.busy ? 'stopping: interrupting the running backup…' : 'stopping: no backup running');
  } finally {
    await watcher?.close();
    await gate.close();
    reporter.stop();
    await job.close();
  }
  log(`stopped after ${runs} backup(s)`);
  return interrupted ? EXIT.INTERRUPTED : EXIT.OK;
}
