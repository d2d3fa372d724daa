/**
 * `qnb copy`: sends the backup sets a copy target does not have yet, newest first. Per set, every
 * valid artifact goes first (each put verified, see the backend), the set's manifest last — so a
 * set that is half copied has no manifest on the target and never looks complete; the next run
 * finishes it. Objects already on the target are proven (recorded sha256, or read back and hashed)
 * instead of being sent again; an object under the same key with other bytes is never overwritten.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { CopyBackend } from '../storage/backend.js';
import { withRetry } from '../storage/retry.js';
import type { TargetContext } from '../targets/target.js';
import { type ErrorCode, QnbError, throwIfAborted, toQnbError } from './errors.js';
import type { SetManifest } from './manifest.js';
import { setKey } from './remote-scan.js';
import type { RepoArtifact, Repository } from './repository.js';

/** Options of copy. */
export interface CopyOptions {
  /** Plan only: list what would be sent, send nothing. */
  dryRun?: boolean;
  /** Copy only these set ids (default: every set with a valid backup). */
  sets?: string[];
}

/** What happened to one artifact. */
export interface CopyArtifactResult {
  file: string;
  bytes: number;
  action: 'sent' | 'present' | 'would-send' | 'failed' | 'not-tried';
  error?: { code: ErrorCode; message: string };
}

/** What happened to one set. */
export interface CopySetResult {
  id: string;
  /** `present`: its manifest was already on the target; `copied`: completed by this run. */
  action: 'present' | 'copied' | 'would-copy' | 'failed' | 'not-tried';
  artifacts: CopyArtifactResult[];
  error?: { code: ErrorCode; message: string; hint?: string };
}

/** The result of copy. */
export interface CopyReport {
  target: string;
  /** How the target proves a copy (the backend's `verification`). */
  verification: string;
  dryRun: boolean;
  ok: boolean;
  sets: CopySetResult[];
  sentFiles: number;
  sentBytes: number;
  durationMs: number;
}

/** Errors that end the whole run (the target is unusable), not just one set. */
const FATAL: ErrorCode[] = [
  'E_AUTH',
  'E_CONNECT',
  'E_NOT_FOUND',
  'E_IO',
  'E_SERVER',
  'E_INTERRUPTED',
  'E_INTERNAL',
];

/** sha256 of an object on the target: recorded at put time when the backend keeps it, else read back. */
async function remoteSha256(
  backend: CopyBackend,
  key: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (backend.properties().storesSha256) return (await backend.stat(key, signal ? { signal } : {}))?.sha256;
  const hash = createHash('sha256');
  for await (const chunk of await backend.get(key, signal ? { signal } : {})) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The set as the target stores it: only the artifacts that were copied. */
function remoteManifest(set: SetManifest, copied: RepoArtifact[]): string {
  const files = new Set(copied.map((a) => a.artifact.file));
  const out: SetManifest = { ...set, artifacts: set.artifacts.filter((a) => files.has(a.file)) };
  return `${JSON.stringify(out, null, 2)}\n`;
}

/** Puts a small in-memory object (a manifest). */
export async function putText(
  backend: CopyBackend,
  key: string,
  text: string,
  signal?: AbortSignal,
): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  const sha256 = createHash('sha256').update(data).digest('hex');
  await withRetry(
    () =>
      backend.put(key, Readable.from([data]), { size: data.length, sha256, ...(signal ? { signal } : {}) }),
    {
      ...(signal ? { signal } : {}),
    },
  );
}

/** Sends one artifact file, retrying transient failures with a fresh stream. */
async function sendArtifact(backend: CopyBackend, a: RepoArtifact, ctx: TargetContext): Promise<void> {
  const { file, bytes, sha256, target, name } = a.artifact;
  const started = Date.now();
  ctx.reporter.emit({ type: 'transfer-start', direction: 'upload', target, name, file, totalBytes: bytes });
  await withRetry(
    () =>
      backend.put(file, createReadStream(a.path, { highWaterMark: 1 << 20 }), {
        size: bytes,
        sha256,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onProgress: (n) =>
          ctx.reporter.emit({
            type: 'transfer-progress',
            direction: 'upload',
            name,
            bytes: n,
            totalBytes: bytes,
          }),
      }),
    {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onRetry: (attempt, e) =>
        ctx.reporter.emit({
          type: 'warning',
          target,
          name,
          message: `${file}: try ${attempt} failed (${e.message}); trying again`,
        }),
    },
  );
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name,
    bytes,
    durationMs: Date.now() - started,
  });
}

/** Copies one set; throws a QnbError for the set's failure. */
async function copySet(
  backend: CopyBackend,
  set: SetManifest,
  valid: RepoArtifact[],
  remote: Map<string, number>,
  ctx: TargetContext,
  dryRun: boolean,
  result: CopySetResult,
): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for (const a of valid) {
    throwIfAborted(ctx.signal);
    const item: CopyArtifactResult = { file: a.artifact.file, bytes: a.artifact.bytes, action: 'not-tried' };
    result.artifacts.push(item);
    const remoteSize = remote.get(a.artifact.file);
    if (remoteSize !== undefined) {
      const same =
        remoteSize === a.artifact.bytes &&
        (await remoteSha256(backend, a.artifact.file, ctx.signal)) === a.artifact.sha256;
      if (!same) {
        const e = new QnbError(
          'E_REFUSED',
          `${a.artifact.file} exists on ${backend.name} with other content; not overwritten`,
          {
            hint: 'another qnb may copy to the same place: give each machine its own folder or s3 prefix',
          },
        );
        item.action = 'failed';
        item.error = { code: e.code, message: e.message };
        throw e;
      }
      item.action = 'present';
      continue;
    }
    if (dryRun) {
      item.action = 'would-send';
      continue;
    }
    try {
      await sendArtifact(backend, a, ctx);
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      item.action = 'failed';
      item.error = { code: e.code, message: e.message };
      throw e;
    }
    item.action = 'sent';
    files++;
    bytes += a.artifact.bytes;
  }
  if (!dryRun) await putText(backend, setKey(set.id), remoteManifest(set, valid), ctx.signal);
  return { files, bytes };
}

/** Copies what the target lacks. Returns a report; throws only when the target cannot be read at all. */
export async function copySets(
  repo: Repository,
  backend: CopyBackend,
  ctx: TargetContext,
  opts: CopyOptions = {},
): Promise<CopyReport> {
  const started = Date.now();
  const dryRun = Boolean(opts.dryRun);
  const scan = await repo.scan();
  // one listing tells which sets and files are there (and checks credentials and bucket first)
  const remote = new Map<string, number>();
  for await (const o of backend.list('', ctx.signal ? { signal: ctx.signal } : {})) remote.set(o.key, o.size);
  const report: CopyReport = {
    target: backend.name,
    verification: backend.properties().verification,
    dryRun,
    ok: true,
    sets: [],
    sentFiles: 0,
    sentBytes: 0,
    durationMs: 0,
  };
  const candidates = scan.sets
    .filter((s) => s.status !== 'running' && (!opts.sets || opts.sets.includes(s.id)))
    .map((s) => ({ set: s, valid: scan.artifacts.filter((a) => a.set.id === s.id && a.valid) }))
    .filter((c) => c.valid.length > 0)
    .sort((x, y) => y.set.startedAt.localeCompare(x.set.startedAt) || y.set.id.localeCompare(x.set.id));
  let stopped: QnbError | undefined;
  for (const { set, valid } of candidates) {
    const result: CopySetResult = { id: set.id, action: 'not-tried', artifacts: [] };
    report.sets.push(result);
    if (remote.has(setKey(set.id))) {
      result.action = 'present';
      continue;
    }
    if (stopped) continue;
    ctx.reporter.emit({
      type: 'step',
      message: `${dryRun ? 'would copy' : 'copying'} set ${set.id} to ${backend.name}`,
    });
    try {
      const sent = await copySet(backend, set, valid, remote, ctx, dryRun, result);
      result.action = dryRun ? 'would-copy' : 'copied';
      report.sentFiles += sent.files;
      report.sentBytes += sent.bytes;
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      result.action = 'failed';
      result.error = { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
      report.ok = false;
      if (e.code === 'E_INTERRUPTED') throw e;
      if (FATAL.includes(e.code)) stopped = e;
    }
  }
  report.durationMs = Date.now() - started;
  return report;
}
