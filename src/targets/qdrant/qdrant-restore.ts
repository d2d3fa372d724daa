/**
 * Restores one collection snapshot: preflight (version, sharding, overwrite, alias names), drop
 * an existing target (its safety snapshot was taken by the caller) so the collection comes back
 * with the backed-up settings, upload under a unique name with priority=snapshot and the
 * checksum (to every node of a cluster: each recovers only its own shards from it), delete the
 * uploaded copy (and check it is gone), then verify (qdrant-restore-check.ts). Cluster backups
 * (shard snapshots) are restored by qdrant-cluster-restore.ts.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { byteCounter } from '../../core/transfer.js';
import type { TargetContext } from '../target.js';
import { explainUploadFailure } from './qdrant-access.js';
import type { QdrantApi } from './qdrant-api.js';
import { otherNodesForSnapshot } from './qdrant-cluster.js';
import { clusterDetails } from './qdrant-cluster-details.js';
import { dropThenRestore } from './qdrant-drop.js';
import { mayStillRun } from './qdrant-errors.js';
import { checkRestored, expectedRange, type QdrantRestoreReport } from './qdrant-restore-check.js';
import { settleAfterInterruptedUpload } from './qdrant-settle.js';
import { checkClusterShardsPerKey, checkShardIdsMatch } from './qdrant-shard-layout.js';

export type { QdrantRestoreReport } from './qdrant-restore-check.js';

/** Options of one restore. */
export interface QdrantRestoreOptions {
  /** Collection to restore into. @default the artifact's collection */
  as?: string;
  /** Whether the target collection exists (checked by the caller before the safety backup). */
  targetExists: boolean;
  /** Least HNSW recall@10 the probes accept (drill.recallThreshold). @default 0.9 */
  recallThreshold?: number;
  /** Where the overwritten collection's safety backup is (for the error after a failed upload). */
  safetyNote?: string;
}

/** Refuses restores that Qdrant would silently get wrong. */
export function checkShardingRestorable(
  artifact: ArtifactRecord,
  target: string,
  targetExists: boolean,
): void {
  const cluster = clusterDetails(artifact);
  if (cluster) checkClusterShardsPerKey(cluster, artifact.name);
  const config = (artifact.details?.config ?? {}) as { params?: { sharding_method?: string } };
  // a cluster backup creates the shard keys itself (qdrant-cluster-restore.ts)
  if (
    config.params?.sharding_method === 'custom' &&
    !clusterDetails(artifact) &&
    (target !== artifact.name || !targetExists)
  ) {
    throw new QnbError(
      'E_UNSUPPORTED',
      `qdrant: "${artifact.name}" uses custom sharding; restored as "${target}" it would come back empty`,
      {
        hint: `create "${target}" with the same shard keys first, then restore into it`,
      },
    );
  }
}

/**
 * Qdrant restores a full-storage snapshot only at start-up (src/main.rs): `--storage-snapshot
 * FILE` recreates every collection and alias, and `--force-snapshot` is needed when any of them
 * exist already (without it Qdrant stops with "Use --force-snapshot to overwrite it").
 */
export function fullSnapshotRestoreError(file: string, path: string): QnbError {
  return new QnbError(
    'E_UNSUPPORTED',
    `${file} is a full-storage snapshot; Qdrant has no API to restore one`,
    {
      hint: `stop Qdrant, then start it once with: qdrant --storage-snapshot ${path} --force-snapshot (--force-snapshot replaces the collections and aliases it holds; in Docker, mount the file and give its path inside the container)`,
    },
  );
}

/** Refuses a target name that is an alias (the upload would stay in snapshots/<alias>/). */
export async function refuseAliasTarget(api: QdrantApi, target: string): Promise<void> {
  const alias = (await api.listAliases()).find((a) => a.alias_name === target);
  if (!alias) return;
  throw new QnbError(
    'E_REFUSED',
    `qdrant: "${target}" is an alias of collection "${alias.collection_name}", not a collection`,
    {
      hint: `restore into "${alias.collection_name}" (with --yes) or into a new name; Qdrant would keep the uploaded copy in snapshots/${target}/ on the server`,
    },
  );
}

/** Uploads the snapshot file into `target` and verifies the result. */
export async function restoreQdrantCollection(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  ctx: TargetContext,
  opts: QdrantRestoreOptions,
): Promise<QdrantRestoreReport> {
  if (clusterDetails(artifact)) {
    throw new QnbError(
      'E_INTERNAL',
      `${artifact.file} is a cluster backup: restore it with restoreCollectionFile`,
    );
  }
  const started = Date.now();
  const target = opts.as ?? artifact.name;
  checkShardingRestorable(artifact, target, opts.targetExists);
  const recordedConfig = artifact.details?.config;
  const custom =
    (recordedConfig as { params?: { sharding_method?: string } } | undefined)?.params?.sharding_method ===
    'custom';
  // Qdrant recovers into an existing collection keeping that collection's settings; a dropped
  // one is created from the snapshot's config. Custom sharding needs the user's shard keys, so
  // that collection is kept (and its settings compared below).
  const dropFirst = opts.targetExists && !custom;
  if (custom && opts.targetExists) await checkShardIdsMatch(api, filePath, artifact.file, target);
  const keptAliases = dropFirst ? await api.listAliases(target) : [];
  // on a cluster every node recovers its own shards from the snapshot: refused before anything
  // is dropped when a node has no REST URL
  const others = await otherNodesForSnapshot(api, artifact, target);
  try {
    await dropThenRestore(api, target, ctx, { drop: dropFirst, safetyNote: opts.safetyNote }, () =>
      uploadInto([api, ...others.apis], artifact, filePath, target, ctx),
    );
  } finally {
    await others.close();
  }
  return checkRestored(api, artifact, target, ctx, {
    started,
    keptAliases,
    keptExisting: custom,
    ...(opts.recallThreshold === undefined ? {} : { recallThreshold: opts.recallThreshold }),
  });
}

/**
 * Uploads the file under a unique name to each node (the entry node first: it creates the
 * collection), then deletes the uploaded copy there and checks it is gone.
 */
async function uploadInto(
  nodes: QdrantApi[],
  artifact: ArtifactRecord,
  filePath: string,
  target: string,
  ctx: TargetContext,
): Promise<void> {
  const started = Date.now();
  const uploadName = `qnb-restore-${randomBytes(6).toString('hex')}.snapshot`;
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'upload',
    target: 'qdrant',
    name: target,
    file: artifact.file,
    totalBytes: artifact.bytes,
  });
  // the file was hashed against the manifest just before, and Qdrant checks `checksum` itself,
  // so the upload only counts bytes (hashing twice cost a quarter of the upload speed)
  const counter = byteCounter((bytes) =>
    ctx.reporter.emit({
      type: 'transfer-progress',
      direction: 'upload',
      name: target,
      bytes,
      totalBytes: artifact.bytes,
    }),
  );
  for (const api of nodes) {
    let uploaded = false;
    try {
      const stream = createReadStream(filePath, { highWaterMark: 1 << 20 }).pipe(
        api === nodes[0] ? counter : byteCounter(() => {}),
      );
      await api.uploadSnapshot(
        target,
        { fileName: uploadName, size: artifact.bytes, stream, sha256: artifact.sha256 },
        { signal: ctx.signal },
      );
      uploaded = true;
    } catch (err) {
      if (ctx.signal?.aborted) throw err;
      const explained = await explainUploadFailure(api, target, err);
      // on a cluster the count only settles once every node has its shards: no waiting there
      if (explained !== err || !(err instanceof QnbError) || !mayStillRun(err) || nodes.length > 1)
        throw explained;
      // the server may have the whole file and be recovering it: wait before touching anything
      await settleAfterInterruptedUpload(api, target, err, ctx, { expected: expectedRange(artifact) });
      uploaded = true;
    } finally {
      // Qdrant keeps uploaded files in snapshots/<collection>/ (qdrant#10207): remove ours.
      await removeUploadedCopy(api, target, uploadName, ctx, uploaded);
    }
  }
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name: target,
    bytes: counter.bytes(),
    durationMs: Date.now() - started,
  });
}

/**
 * Deletes the uploaded copy; a 404 is only "gone" when the listing agrees. Never throws.
 * `uploaded`: the server accepted the upload (so a copy certainly was stored).
 */
export async function removeUploadedCopy(
  api: QdrantApi,
  target: string,
  uploadName: string,
  ctx: TargetContext,
  uploaded: boolean,
): Promise<void> {
  const warn = (message: string) =>
    ctx.reporter.emit({ type: 'warning', target: 'qdrant', name: target, message });
  try {
    if (await api.deleteSnapshot(target, uploadName)) return;
    const listed = await api.listSnapshots(target).catch(() => undefined);
    if (listed && !listed.some((s) => s.name === uploadName)) {
      // not found and not listed: never stored, or kept where the API cannot see it (S3 storage)
      if (uploaded)
        warn(
          `the server answered 404 to deleting the uploaded copy ${uploadName} and does not list it; with snapshots_storage s3 Qdrant may keep it in its local snapshots/${target}/ folder`,
        );
      return;
    }
    warn(
      `the uploaded copy ${uploadName} is still on the server (snapshots/${target}/) and could not be deleted; delete it by hand`,
    );
  } catch (err) {
    warn(`could not delete the uploaded copy ${uploadName} on the server: ${(err as Error).message}`);
  }
}
