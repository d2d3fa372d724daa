/**
 * The backup job that `schedule`, `watch` and `run` start: the same `backup-all` pipeline (lock →
 * preflight → back up → verify → [copy] → retention) as a manual run, wrapped in the monitoring
 * hooks. One manager, one Qdrant connection and one copy target for the life of a long-running
 * process.
 */
import { isAbsolute, resolve } from 'node:path';
import type { QnbConfig } from '../config/schema.js';
import type { QnbEvent } from '../core/events.js';
import { type BackupManager, type BackupResult, createBackupManager } from '../core/manager.js';
import { createMonitor, type Monitor } from '../core/monitor.js';
import { displayTime } from '../core/time.js';
import type { CopyBackend } from '../storage/backend.js';

/** Options of one backup. */
export interface BackupJobRun {
  /** Recorded as the set's command and sent to the webhook, e.g. `backup-all (schedule)`. */
  command: string;
  reason?: 'backup' | 'pre-command';
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
}

/** A manager plus its monitoring hooks. */
export interface BackupJob {
  readonly manager: BackupManager;
  readonly monitor: Monitor;
  /** Runs backup-all (with the copy, then retention) between the monitoring hooks. */
  run(opts: BackupJobRun): Promise<BackupResult>;
  close(): Promise<void>;
}

/** Options of createBackupJob. */
export interface BackupJobOptions {
  onEvent: (e: QnbEvent) => void;
  signal: AbortSignal;
  /** Redacts what the webhook sends. */
  redact?: (text: string) => string;
  /** Folder a relative Prometheus textfile path is resolved against. */
  cwd: string;
  /**
   * `--copy-to`: every run copies the sets this target lacks after an `ok` set; retention runs
   * only when that copy succeeded, and a failed copy is a failed run for the hooks. The job closes it.
   */
  copyTo?: CopyBackend;
}

/**
 * The monitoring hooks of `config` for a manager's backups folder. `qnb backup-all` wraps its
 * run in `monitor.around(…)` the same way the jobs here do.
 */
export function monitorFor(
  config: Readonly<QnbConfig>,
  manager: BackupManager,
  opts: Pick<BackupJobOptions, 'onEvent' | 'redact' | 'cwd'>,
): Monitor {
  const file = config.monitor.prometheusFile;
  return createMonitor(
    { ...config.monitor, prometheusFile: file && !isAbsolute(file) ? resolve(opts.cwd, file) : file },
    {
      reporter: { emit: opts.onEvent },
      repository: manager.repository,
      ...(opts.redact ? { redact: opts.redact } : {}),
    },
  );
}

/** Creates the job for a configuration. */
export function createBackupJob(config: Readonly<QnbConfig>, opts: BackupJobOptions): BackupJob {
  const manager = createBackupManager(config, { onEvent: opts.onEvent, signal: opts.signal });
  const monitor = monitorFor(config, manager, opts);
  return {
    manager,
    monitor,
    run: (r) =>
      monitor.around({ command: r.command }, () =>
        manager.backupAll({
          command: r.command,
          reason: r.reason ?? 'backup',
          skipNeo4j: Boolean(r.skipNeo4j),
          skipQdrant: Boolean(r.skipQdrant),
          cleanupOld: true,
          ...(opts.copyTo ? { copyTo: opts.copyTo } : {}),
        }),
      ),
    async close() {
      await manager.close();
      await opts.copyTo?.close();
    },
  };
}

/** Prefixes every line with the local time, for the logs of long-running commands. */
export function timestamped(write: (line: string) => void): (line: string) => void {
  return (line) => {
    const at = `[${displayTime(new Date())}]`;
    for (const l of line.split('\n')) write(l ? `${at} ${l}` : at);
  };
}
