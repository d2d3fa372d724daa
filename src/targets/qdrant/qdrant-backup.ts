/**
 * Backs up one Qdrant collection (or the full storage): record version, config, aliases and
 * exact counts; create the snapshot without a client timeout and never twice; stream it to
 * disk with sha256 inline; check size and checksum; delete the server copy; commit.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  InterruptedError,
  NotFoundError,
  QnbError,
  throwIfAborted,
  VerificationError,
} from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { streamToFile } from '../../core/transfer.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import { type QdrantApi, type SnapshotDescription, type SnapshotScope, scopeLabel } from './qdrant-api.js';
import { countPoints, strictModeOf } from './qdrant-count.js';
import { settleDeferred } from './qdrant-deferred.js';
import { isGatewayFailure } from './qdrant-errors.js';
import { recordQdrantProbes } from './qdrant-probes.js';
import { samplePoints } from './qdrant-sample.js';

/** Per-run knobs for Qdrant backups. */
export interface QdrantBackupOptions {
  keepServerSnapshot: boolean;
  /** Points sampled for restore verification. @default 3 */
  sampleSize?: number;
  /** Points probed with their exact top-10 neighbours (drill.qdrantSamples). @default 20 */
  probeSamples?: number;
  /** How long to look for a snapshot after a lost connection or a 202. @default 600000 */
  lookupTimeoutMs?: number;
  /** Pause between lookups. @default 1000 */
  lookupIntervalMs?: number;
}

/** The name progress events carry (SnapshotScope: null = full storage, {collection, shard} = one shard). */
const scopeName = (scope: SnapshotScope) =>
  scope === null ? '*' : typeof scope === 'string' ? scope : `${scope.collection}#${scope.shard}`;

/**
 * Creates a snapshot. After a network error or a 202 the snapshot may still be in the works on
 * the server, so it is looked up in the list (names not seen before) instead of created again.
 */
export async function createSnapshotOnce(
  api: QdrantApi,
  scope: SnapshotScope,
  ctx: TargetContext,
  opts: QdrantBackupOptions,
): Promise<SnapshotDescription> {
  const before = new Set((await api.listSnapshots(scope)).map((s) => s.name));
  let lost: unknown;
  try {
    const res = await api.createSnapshot(scope, { signal: ctx.signal });
    if (res !== 'accepted') return res;
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      message: `snapshot of ${scopeLabel(scope)} accepted (202); waiting for it`,
    });
  } catch (err) {
    throwIfAborted(ctx.signal);
    const gateway = isGatewayFailure(err);
    if (!(err instanceof QnbError) || (err.code !== 'E_CONNECT' && !gateway)) throw err;
    lost = err;
    const what = gateway ? `a proxy gave up (${err.message.replace(/^.*: /, '')})` : 'connection lost';
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      message: `${what} while creating the snapshot of ${scopeLabel(scope)}; Qdrant finishes it anyway, so qnb looks for it on the server instead of creating a second one`,
    });
  }
  const deadline = Date.now() + (opts.lookupTimeoutMs ?? 600_000);
  let lastError: unknown = lost;
  const sizes = new Map<string, number>();
  while (Date.now() < deadline) {
    throwIfAborted(ctx.signal);
    try {
      const fresh = (await api.listSnapshots(scope)).filter((s) => !before.has(s.name));
      // a snapshot is complete once its checksum file exists (local storage)
      const done = fresh.find((s) => s.checksum);
      if (done) return done;
      // S3 snapshot storage never lists a checksum (objects appear once uploaded whole): take
      // a fresh snapshot whose size held still between two listings; the download is then
      // checked against that size and hashed by qnb (checksumSource "self")
      const settled = fresh.find((s) => s.size > 0 && sizes.get(s.name) === s.size);
      if (settled) {
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          message: `found ${settled.name} on the server without a checksum (S3 snapshot storage?); its size held still at ${settled.size} bytes`,
        });
        return settled;
      }
      for (const s of fresh) sizes.set(s.name, s.size);
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    await sleep(opts.lookupIntervalMs ?? 1000, undefined, { signal: ctx.signal }).catch(() => {
      throw new InterruptedError();
    });
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new QnbError(
    'E_SERVER',
    `qdrant ${api.baseUrl}: snapshot of ${scopeLabel(scope)} did not appear on the server${reason}`,
    {
      hint: 'check the Qdrant server log; no second snapshot was created',
      retryable: true,
    },
  );
}

/** Downloads a snapshot into a reserved temp file and checks size and checksum. */
export async function download(
  api: QdrantApi,
  scope: SnapshotScope,
  snap: SnapshotDescription,
  tempPath: string,
  file: string,
  ctx: TargetContext,
): Promise<{ bytes: number; sha256: string; durationMs: number }> {
  const started = Date.now();
  const dl = await api.downloadSnapshot(scope, snap.name, { signal: ctx.signal });
  const name = scopeName(scope);
  if (dl.contentEncoding) {
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      name,
      message: `server compressed the download (${dl.contentEncoding}) although qnb asked for identity; decoding it`,
    });
  }
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'download',
    target: 'qdrant',
    name,
    file,
    totalBytes: snap.size,
  });
  let received = 0;
  let res: { bytes: number; sha256: string };
  try {
    res = await streamToFile(dl.body, tempPath, {
      signal: ctx.signal,
      encoding: dl.contentEncoding,
      onProgress: (bytes) => {
        received = bytes;
        ctx.reporter.emit({
          type: 'transfer-progress',
          direction: 'download',
          name,
          bytes,
          totalBytes: snap.size,
        });
      },
    });
  } catch (err) {
    if (err instanceof QnbError || ctx.signal?.aborted) throw err;
    const why = (err as Error).message;
    throw new QnbError(
      'E_CONNECT',
      `qdrant ${api.baseUrl}: download of ${snap.name} broke off after ${received} of ${snap.size} bytes (${why})`,
      {
        hint: 'the server or network dropped the transfer; run the backup again',
        retryable: true,
        cause: err,
      },
    );
  }
  const durationMs = Date.now() - started;
  ctx.reporter.emit({ type: 'transfer-end', direction: 'download', name, bytes: res.bytes, durationMs });
  if (snap.size > 0 && res.bytes !== snap.size) {
    throw new VerificationError(
      `qdrant snapshot ${snap.name}: received ${res.bytes} bytes, the server reported ${snap.size}`,
      'the download was cut short; run the backup again',
    );
  }
  if (snap.checksum && snap.checksum.toLowerCase() !== res.sha256) {
    throw new VerificationError(
      `qdrant snapshot ${snap.name}: sha256 ${res.sha256} does not match the server's checksum ${snap.checksum}`,
      'the download was corrupted; run the backup again',
    );
  }
  return { ...res, durationMs };
}

/** Reads what the manifest records about a collection before the snapshot. */
export async function describeCollection(
  api: QdrantApi,
  name: string,
  sampleSize: number,
  ctx: TargetContext,
  probeSamples: number,
) {
  let info: Record<string, unknown>;
  try {
    info = await api.getCollection(name);
  } catch (err) {
    if (err instanceof NotFoundError) {
      const names = await api.listCollections().catch(() => [] as string[]);
      throw new NotFoundError(
        `qdrant ${api.baseUrl}: collection "${name}" not found`,
        names.length ? `existing collections: ${names.join(', ')}` : 'the server has no collections',
      );
    }
    throw err;
  }
  const settle = await settleDeferred(api, name, info, ctx);
  info = settle.info;
  if (!settle.settled) {
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      name,
      message: `"${name}" still hides points the optimizer has not processed (prevent_unoptimized, status ${String(info.status)}); its count is recorded as a lower bound only`,
    });
  }
  const aliases = await api.listAliases(name);
  const { count: points, method: countMethod } = await countPoints(api, name, info);
  // strict mode's max_query_limit also caps the sample's scroll
  const strict = strictModeOf(info);
  const limit = Math.min(sampleSize, strict?.max_query_limit ?? sampleSize);
  const timeout = Math.min(600, strict?.max_timeout ?? 600);
  const sample = limit > 0 ? samplePoints(await api.scroll(name, limit, timeout)) : [];
  const config = (info.config ?? null) as Record<string, unknown> | null;
  const probes = await recordQdrantProbes(api, name, config, probeSamples);
  return {
    config,
    probes,
    aliases,
    points,
    ...(countMethod === 'scroll' ? { countMethod } : {}),
    ...(settle.settled ? {} : { deferredPoints: true }),
    sample,
  };
}

/**
 * Backs up one collection, or the full storage when `scope` is null, as ONE snapshot taken
 * through `api`. Returns the committed record. Only for a server whose topology was checked: on
 * a Qdrant cluster such a snapshot holds only that node's shards (callers that did not check use
 * backupCheckingTopology, qdrant-cluster-backup.ts; the target's preflight plans clusters).
 */
export async function backupQdrantScope(
  api: QdrantApi,
  scope: string | null,
  serverVersion: string,
  sink: ArtifactSink,
  ctx: TargetContext,
  opts: QdrantBackupOptions,
): Promise<ArtifactRecord> {
  const startedAt = ctx.now();
  const name = scope ?? '*';
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name,
    message: `snapshot of ${scopeLabel(scope)}: creating`,
  });
  const before =
    scope === null
      ? await describeFull(api)
      : await describeCollection(api, scope, opts.sampleSize ?? 3, ctx, opts.probeSamples ?? 20);
  const snap = await createSnapshotOnce(api, scope, ctx, opts);
  const reserved = await sink.reserve(
    'qdrant',
    scope === null ? 'full-snapshot-backup' : `${scope}-backup`,
    '.snapshot',
  );
  let committed = false;
  try {
    const got = await download(api, scope, snap, reserved.tempPath, reserved.rel, ctx);
    const after = scope === null ? undefined : (await countPoints(api, scope)).count;
    const points = 'points' in before ? before.points : undefined;
    const counts =
      points === undefined
        ? {}
        : 'deferredPoints' in before
          ? { pointsMin: Math.min(points, after ?? points) }
          : after === undefined || after === points
            ? { points }
            : { pointsMin: Math.min(points, after), pointsMax: Math.max(points, after) };
    if (after !== undefined && after !== points) {
      ctx.reporter.emit({
        type: 'warning',
        target: 'qdrant',
        name,
        message: `points changed during the snapshot (${points} → ${after})`,
      });
    }
    if (!snap.checksum) {
      ctx.reporter.emit({
        type: 'warning',
        target: 'qdrant',
        name,
        message: 'the server reported no checksum for this snapshot; qnb recorded its own sha256 only',
      });
    }
    const record: ArtifactRecord = {
      target: 'qdrant',
      kind: scope === null ? 'qdrant-full' : 'qdrant-collection',
      name,
      file: reserved.rel,
      status: 'pending',
      bytes: got.bytes,
      sha256: got.sha256,
      serverChecksum: snap.checksum ?? null,
      checksumSource: snap.checksum ? 'server' : 'self',
      serverVersion,
      counts,
      ...('sample' in before ? { sample: before.sample } : {}),
      startedAt: startedAt.toISOString(),
      finishedAt: ctx.now().toISOString(),
      durationMs: ctx.now().getTime() - startedAt.getTime(),
      details: {
        snapshotName: snap.name,
        serverUrl: api.baseUrl,
        ...before,
        sample: undefined,
        points: undefined,
      },
    };
    await sink.commit(record, reserved.tempPath);
    committed = true;
    return record;
  } finally {
    if (!committed) await sink.discard(reserved.tempPath);
    if (!opts.keepServerSnapshot) {
      await api.deleteSnapshot(scope, snap.name).catch((err: Error) =>
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          name,
          message: `could not delete ${snap.name} on the server: ${err.message}`,
        }),
      );
    }
  }
}

async function describeFull(api: QdrantApi) {
  const collections = await api.listCollections();
  const counts: Record<string, number> = {};
  for (const c of collections) counts[c] = (await countPoints(api, c)).count;
  return { collections: counts, aliases: await api.listAliases() };
}
