/**
 * Monitoring hooks around a backup run: healthchecks-style pings (`URL/start`, `URL`,
 * `URL/fail`), a webhook that receives a JSON summary, and a Prometheus textfile with the last
 * good backup of every target. A hook that fails never changes the backup's outcome: it becomes a
 * warning, and URLs (which often hold a token) are shown by their origin only.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { MonitorConfig } from '../config/schema.js';
import { backupSucceeded } from './backup-copy.js';
import { LockedError, toQnbError } from './errors.js';
import type { Reporter } from './events.js';
import { acquireLock } from './lock.js';
import type { BackupResult } from './manager.js';
import type { Repository } from './repository.js';
import { computeStatus, type StatusReport } from './status.js';
import { errorBody, type RunInfo, type WebhookBody, webhookBody } from './webhook-body.js';

/** What the hooks need besides the configuration. */
export interface MonitorOptions {
  /** Warnings about hooks that failed. */
  reporter: Reporter;
  /** The backups folder (lock probe and Prometheus textfile). */
  repository: Repository;
  /** Applied to every body sent (webhook). */
  redact?: (text: string) => string;
  /** Per request. @default 10000 */
  timeoutMs?: number;
  now?: () => Date;
}

export type { RunInfo, WebhookBody } from './webhook-body.js';

/** `https://hc-ping.com/…`: a URL without its path, query or user info. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 || u.search ? '/…' : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

async function send(
  url: string,
  init: { method: 'GET' | 'POST'; body?: string; type?: string },
  timeoutMs: number,
): Promise<void> {
  const res = await fetch(url, {
    method: init.method,
    ...(init.body !== undefined
      ? { body: init.body, headers: { 'content-type': init.type ?? 'application/json' } }
      : {}),
    signal: AbortSignal.timeout(timeoutMs),
    redirect: 'follow',
  });
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

function reason(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/** Label value escaping of the Prometheus text format. */
const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The Prometheus textfile for a status report and the run that just ended. */
export function prometheusText(
  report: StatusReport,
  run: { ok: boolean; durationMs: number; at: Date },
): string {
  const families: [string, string, (t: StatusReport['targets'][number]) => number | undefined][] = [
    [
      'qnb_last_success_timestamp_seconds',
      'Unix time of the newest valid backup of the target.',
      (t) => (t.lastGood ? Date.parse(t.lastGood.createdAt) / 1000 : undefined),
    ],
    [
      'qnb_last_duration_seconds',
      'Duration of that backup.',
      (t) => t.lastGood && t.lastGood.durationMs / 1000,
    ],
    ['qnb_last_bytes', 'Size of that backup in bytes.', (t) => t.lastGood?.bytes],
    [
      'qnb_last_points',
      'Qdrant points in that backup.',
      (t) => t.lastGood?.counts.points ?? t.lastGood?.counts.pointsMax,
    ],
    [
      'qnb_last_shards',
      'Qdrant cluster backups: shard snapshots in that backup.',
      (t) => t.lastGood?.shards?.inBackup,
    ],
    [
      'qnb_last_shard_coverage',
      'Qdrant cluster backups: shards in that backup / shards of the collection (1 = complete).',
      (t) => t.lastGood?.shards && t.lastGood.shards.inBackup / t.lastGood.shards.total,
    ],
    [
      'qnb_last_nodes',
      'Neo4j nodes in that backup (the upper bound of a dump taken while the graph changed).',
      (t) => t.lastGood?.counts.nodes ?? t.lastGood?.counts.nodesMax,
    ],
    [
      'qnb_last_relationships',
      'Neo4j relationships in that backup (the upper bound of a dump taken while the graph changed).',
      (t) => t.lastGood?.counts.relationships ?? t.lastGood?.counts.relationshipsMax,
    ],
    [
      'qnb_target_healthy',
      '1 when qnb status finds nothing wrong with the target.',
      (t) => (t.healthy ? 1 : 0),
    ],
  ];
  const lines: string[] = [];
  for (const [name, help, value] of families) {
    const rows = report.targets
      .map((t) => [t, value(t)] as const)
      .filter((r): r is [StatusReport['targets'][number], number] => typeof r[1] === 'number');
    if (rows.length === 0) continue;
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`);
    for (const [t, v] of rows) lines.push(`${name}{target="${esc(t.target)}",name="${esc(t.name)}"} ${v}`);
  }
  lines.push(
    '# HELP qnb_last_run_timestamp_seconds Unix time the last backup run ended.',
    '# TYPE qnb_last_run_timestamp_seconds gauge',
    `qnb_last_run_timestamp_seconds ${run.at.getTime() / 1000}`,
    '# HELP qnb_last_run_success 1 when the last backup run produced an ok set.',
    '# TYPE qnb_last_run_success gauge',
    `qnb_last_run_success ${run.ok ? 1 : 0}`,
    '# HELP qnb_last_run_duration_seconds Duration of the last backup run.',
    '# TYPE qnb_last_run_duration_seconds gauge',
    `qnb_last_run_duration_seconds ${run.durationMs / 1000}`,
  );
  return `${lines.join('\n')}\n`;
}

/**
 * Writes `text` to `path` atomically. The temporary name does not end in `.prom`, so the
 * node_exporter textfile collector never reads a half-written file; mode 0644 so it can read it.
 */
export async function writeTextfileAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** Hooks of one configuration. */
export interface Monitor {
  /** True when any hook is configured. */
  readonly active: boolean;
  /**
   * Runs `backup` between the start and finish hooks and returns its result (or rethrows its
   * error). A run refused because another qnb holds the lock sends nothing: the holder reports.
   * Any other failure, before `/start` too (a full or read-only backups folder), is a failed run.
   */
  around(info: RunInfo, backup: () => Promise<BackupResult>): Promise<BackupResult>;
}

/** Creates the monitoring hooks of `config`. */
export function createMonitor(config: Readonly<MonitorConfig>, opts: MonitorOptions): Monitor {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const now = opts.now ?? (() => new Date());
  const redact = opts.redact ?? ((s: string) => s);
  const warn = (message: string) => opts.reporter.emit({ type: 'warning', message });

  /** `/fail` is POSTed with the reason, which healthchecks.io shows in the ping's log. */
  async function ping(suffix: '/start' | '' | '/fail', why?: string): Promise<void> {
    if (!config.pingUrl) return;
    const init =
      why === undefined ? { method: 'GET' as const } : { method: 'POST' as const, body: redact(why) };
    try {
      await send(`${config.pingUrl}${suffix}`, { ...init, type: 'text/plain; charset=utf-8' }, timeoutMs);
    } catch (err) {
      warn(
        `ping ${describeUrl(config.pingUrl)}${suffix} failed (${reason(err)}); the backup is not affected`,
      );
    }
  }

  async function webhook(body: WebhookBody): Promise<void> {
    if (!config.webhookUrl) return;
    try {
      await send(config.webhookUrl, { method: 'POST', body: redact(JSON.stringify(body)) }, timeoutMs);
    } catch (err) {
      warn(`webhook ${describeUrl(config.webhookUrl)} failed (${reason(err)}); the backup is not affected`);
    }
  }

  async function textfile(ok: boolean, durationMs: number): Promise<void> {
    if (!config.prometheusFile) return;
    try {
      const report = computeStatus(await opts.repository.scan(), {
        now: now(),
        maxAgeMs: Number.POSITIVE_INFINITY,
      });
      await writeTextfileAtomic(config.prometheusFile, prometheusText(report, { ok, durationMs, at: now() }));
    } catch (err) {
      warn(`Prometheus textfile ${config.prometheusFile}: ${reason(err)}; the backup is not affected`);
    }
  }

  /** Fails fast, before `/start` is sent, when another run holds the lock. */
  async function probeLock(command: string): Promise<void> {
    await opts.repository.init();
    const lock = await acquireLock(opts.repository.root, command);
    await lock.release();
  }

  const active = Boolean(config.pingUrl || config.webhookUrl || config.prometheusFile);
  return {
    active,
    async around(info, backup) {
      if (!active) return backup();
      let started = Date.now();
      /** A run that produced no set: `/fail` with the reason, the webhook, the textfile; then thrown. */
      const fail = async (err: unknown): Promise<never> => {
        const body = errorBody(info, toQnbError(err), Date.now() - started);
        await Promise.all([ping('/fail', body.text), webhook(body), textfile(false, body.durationMs)]);
        throw err;
      };
      // another run holds the lock: it reports, this one stays silent; any other failure alerts
      await probeLock(info.command).catch((err) =>
        err instanceof LockedError ? Promise.reject(err) : fail(err),
      );
      started = Date.now();
      await ping('/start');
      let result: BackupResult;
      try {
        result = await backup();
      } catch (err) {
        if (err instanceof LockedError) throw err;
        return fail(err);
      }
      // a failed off-site copy or hooks.afterSet fails the run: the backup did not leave the
      // machine, or the writers may still be paused
      const ok = backupSucceeded(result);
      const body = webhookBody(info, result);
      await Promise.all([
        ping(ok ? '' : '/fail', ok ? undefined : body.text),
        webhook(body),
        textfile(ok, result.durationMs),
      ]);
      return result;
    },
  };
}
