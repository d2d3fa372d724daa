/**
 * Backs up one Qdrant collection (or the full storage) in two halves: prepare (record version,
 * config, aliases and exact counts; create the snapshot, qdrant-snapshot-create.ts), then run
 * (stream it to disk with sha256 inline, qdrant-download.ts; check size and checksum; commit;
 * delete the server copy).
 */
import { withoutUserInfo } from '../../config/redact.js';
import { NotFoundError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import { type QdrantApi, type SnapshotDescription, scopeLabel } from './qdrant-api.js';
import { countPoints, queryLimit, strictModeOf } from './qdrant-count.js';
import { settleDeferred } from './qdrant-deferred.js';
import { download } from './qdrant-download.js';
import { recordPayloadSchema } from './qdrant-payload-indexes.js';
import { recordQdrantProbes } from './qdrant-probes.js';
import { samplePoints } from './qdrant-sample.js';
import { createSnapshotOnce, type QdrantBackupOptions } from './qdrant-snapshot-create.js';

export type { QdrantBackupOptions };

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
  // strict mode's max_query_limit also caps the sample's scroll (and the probes' queries)
  const strict = strictModeOf(info);
  const limit = queryLimit(sampleSize, strict);
  const timeout = Math.min(600, strict?.max_timeout ?? 600);
  const sample = limit > 0 ? samplePoints(await api.scroll(name, limit, timeout)) : [];
  const config = (info.config ?? null) as Record<string, unknown> | null;
  const probes = await recordQdrantProbes(api, name, config, probeSamples);
  return {
    config,
    payloadSchema: recordPayloadSchema(info),
    probes,
    aliases,
    points,
    ...(countMethod === 'scroll' ? { countMethod } : {}),
    ...(settle.settled ? {} : { deferredPoints: true }),
    sample,
  };
}

/** A scope whose snapshot exists on the server, ready to download (prepareQdrantScope). */
export interface PreparedQdrantScope {
  /** Downloads, checks and commits the snapshot; deletes the server copy whatever happens. */
  run(sink: ArtifactSink): Promise<ArtifactRecord>;
  /** Deletes the server copy when `run` will not run (an interrupted or blocked set). Never throws. */
  release(): Promise<void>;
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
  return (await prepareQdrantScope(api, scope, serverVersion, ctx, opts)).run(sink);
}

/**
 * The first half of backupQdrantScope: records what the manifest needs before the snapshot and
 * creates the snapshot on the server. A backup of several collections prepares the next one
 * while the current one downloads (Target.prepareBackup).
 */
export async function prepareQdrantScope(
  api: QdrantApi,
  scope: string | null,
  serverVersion: string,
  ctx: TargetContext,
  opts: QdrantBackupOptions,
): Promise<PreparedQdrantScope> {
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
  let deleted: Promise<void> | undefined;
  const deleteServerCopy = () => {
    if (opts.keepServerSnapshot) return Promise.resolve();
    deleted ??= api.deleteSnapshot(scope, snap.name).then(
      () => {},
      (err: Error) =>
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          name,
          message: `could not delete ${snap.name} on the server: ${err.message}`,
        }),
    );
    return deleted;
  };
  return {
    release: deleteServerCopy,
    async run(sink) {
      try {
        // the server copy is deleted as soon as the download is checked, while the counts
        // after and the commit run (it is deleted whatever happens, so nothing changes on failure)
        const run = { serverVersion, startedAt, downloaded: deleteServerCopy };
        return await downloadAndCommit(api, scope, snap, before, sink, ctx, run);
      } finally {
        await deleteServerCopy();
      }
    },
  };
}

/** The second half: download, counts after, the record, commit. */
async function downloadAndCommit(
  api: QdrantApi,
  scope: string | null,
  snap: SnapshotDescription,
  before: Awaited<ReturnType<typeof describeCollection>> | Awaited<ReturnType<typeof describeFull>>,
  sink: ArtifactSink,
  ctx: TargetContext,
  run: { serverVersion: string; startedAt: Date; downloaded?: () => Promise<void> },
): Promise<ArtifactRecord> {
  const { serverVersion, startedAt } = run;
  const name = scope ?? '*';
  const reserved = await sink.reserve(
    'qdrant',
    scope === null ? 'full-snapshot-backup' : `${scope}-backup`,
    '.snapshot',
  );
  let committed = false;
  try {
    const got = await download(api, scope, snap, reserved.tempPath, reserved.rel, ctx);
    void run.downloaded?.(); // never rejects (a failed delete is a warning)
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
        serverUrl: withoutUserInfo(api.baseUrl),
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
  }
}

async function describeFull(api: QdrantApi) {
  const collections = await api.listCollections();
  const counts: Record<string, number> = {};
  for (const c of collections) counts[c] = (await countPoints(api, c)).count;
  return { collections: counts, aliases: await api.listAliases() };
}
