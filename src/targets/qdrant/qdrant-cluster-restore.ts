/**
 * Restore of a cluster backup (one shard snapshot per shard, shard-bundle.ts) into a cluster or a
 * single node: create the collection with the recorded config, shard_number and payload indexes
 * (which shard snapshots do not carry, qdrant-payload-indexes.ts), read the new
 * placement, upload each shard snapshot to a node holding that shard with priority=snapshot,
 * then check the exact total and the sampled points.
 */
import { QnbError, throwIfAborted, VerificationError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import {
  closeCluster,
  discoverClusterOf,
  planClusterCollection,
  type QdrantCluster,
} from './qdrant-cluster.js';
import { type ClusterBackupDetails, clusterDetails } from './qdrant-cluster-details.js';
import { dropThenRestore } from './qdrant-drop.js';
import { recordedPayloadSchema, recreatePayloadIndexes } from './qdrant-payload-indexes.js';
import { type QdrantRestoreOptions, restoreQdrantCollection } from './qdrant-restore.js';
import { checkRestored, type QdrantRestoreReport } from './qdrant-restore-check.js';
import { checkClusterShardsPerKey } from './qdrant-shard-layout.js';
import { type BundleEntry, readBundleIndex, readBundleMember } from './shard-bundle.js';

type Json = Record<string, unknown>;

/** What a cluster restore will do (printed by --dry-run and before the restore). */
export interface ClusterRestorePlan {
  collection: string;
  topology: string;
  shardNumber: number;
  uploads: { shardId: number; toShardId: number; peerId?: number; url: string; bytes: number }[];
}

/** CreateCollection body from the recorded CollectionConfig and the cluster details. */
export function createBody(config: Json, details: ClusterBackupDetails, peers: number): Json {
  const params = (config.params ?? {}) as Json;
  const body: Json = {
    vectors: params.vectors ?? {},
    shard_number: details.shardingMethod === 'custom' ? 1 : details.shardNumber,
    replication_factor: Math.max(1, Math.min(details.replicationFactor, peers)),
  };
  for (const k of ['sparse_vectors', 'on_disk_payload', 'write_consistency_factor', 'sharding_method'])
    if (params[k] !== undefined && params[k] !== null) body[k] = params[k];
  if (config.hnsw_config) body.hnsw_config = config.hnsw_config;
  if (config.optimizer_config) body.optimizers_config = config.optimizer_config;
  if (config.wal_config) body.wal_config = config.wal_config;
  if (config.quantization_config) body.quantization_config = config.quantization_config;
  if (config.strict_mode_config) body.strict_mode_config = config.strict_mode_config;
  return body;
}

function members(
  index: BundleEntry[],
  details: ClusterBackupDetails,
  file: string,
): Map<number, BundleEntry> {
  const out = new Map<number, BundleEntry>();
  for (const s of details.shards) {
    const m = index.find((e) => e.name === s.member);
    if (!m || m.size !== s.bytes) {
      throw new VerificationError(
        `${file}: shard ${s.shardId} (${s.member}) is ${m ? `${m.size} bytes, the manifest recorded ${s.bytes}` : 'missing'}`,
        'the backup file is damaged; restore another backup',
      );
    }
    out.set(s.shardId, m);
  }
  return out;
}

/**
 * Restores a checked backup file into `opts.as ?? artifact.name`: a cluster backup (shard
 * snapshots) shard by shard, a collection snapshot as one upload (to every node of a cluster).
 */
export function restoreCollectionFile(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  ctx: TargetContext,
  opts: QdrantRestoreOptions,
): Promise<QdrantRestoreReport> {
  return clusterDetails(artifact)
    ? restoreClusterBackup(api, artifact, filePath, ctx, opts)
    : restoreQdrantCollection(api, artifact, filePath, ctx, opts);
}

/** Restores a cluster backup into `opts.as ?? artifact.name` on the server (cluster or single node) behind `api`. */
export async function restoreClusterBackup(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  ctx: TargetContext,
  opts: QdrantRestoreOptions,
): Promise<QdrantRestoreReport> {
  const started = Date.now();
  const details = clusterDetails(artifact)!;
  const target = opts.as ?? artifact.name;
  const files = members(await readBundleIndex(filePath), details, artifact.file);
  checkClusterShardsPerKey(details, artifact.name);
  if (details.shardingMethod === 'custom' && details.shardKeys.length !== details.shards.length) {
    throw new QnbError(
      'E_UNSUPPORTED',
      `qdrant: "${artifact.name}" uses custom sharding but the backup does not record a shard key for every shard`,
      {
        hint: 'restore it into a collection created by hand with the same shard keys, one shard snapshot at a time',
      },
    );
  }
  const cluster = await discoverClusterOf(api);
  const peers = cluster?.nodes.length ?? 1;
  // the collection is always created from the recorded config (as Qdrant does for a snapshot
  // into a missing collection): an existing one is dropped first (its safety backup was taken)
  const keptAliases = opts.targetExists ? await api.listAliases(target) : [];
  try {
    const config = (artifact.details?.config ?? {}) as Json;
    await dropThenRestore(
      api,
      target,
      ctx,
      { drop: opts.targetExists, safetyNote: opts.safetyNote },
      async () => {
        await api.createCollection(target, createBody(config, details, peers));
        for (const key of details.shardingMethod === 'custom' ? details.shardKeys : [])
          await api.createShardKey(target, key);
        // shard snapshots carry no payload index schema: re-created here, while the collection is empty
        await recreatePayloadIndexes(api, target, recordedPayloadSchema(artifact), ctx);
        const plan = await planRestore(api, cluster, target, details, files);
        ctx.reporter.emit({ type: 'step', target: 'qdrant', name: target, message: describePlan(plan) });
        for (const u of plan.uploads) {
          throwIfAborted(ctx.signal);
          const node = cluster?.nodes.find((n) => n.peerId === u.peerId)?.api ?? api;
          const shard = details.shards.find((s) => s.shardId === u.shardId)!;
          await node.uploadSnapshot(
            { collection: target, shard: u.toShardId },
            {
              fileName: `qnb-restore-${target}-shard-${u.shardId}.snapshot`,
              size: shard.bytes,
              stream: readBundleMember(filePath, files.get(u.shardId)!),
              sha256: shard.sha256,
            },
            { signal: ctx.signal },
          );
        }
      },
    );
  } finally {
    await closeCluster(cluster, api);
  }
  // fewer peers than the recorded replication_factor: capped on purpose (createBody)
  const ignoreSettings = details.replicationFactor > peers ? ['params.replication_factor'] : [];
  return checkRestored(api, artifact, target, ctx, {
    started,
    keptAliases,
    ignoreSettings,
    ...(opts.recallThreshold === undefined ? {} : { recallThreshold: opts.recallThreshold }),
  });
}

/** Which node receives which shard; refuses when the shard layout cannot match. */
async function planRestore(
  api: QdrantApi,
  cluster: QdrantCluster | undefined,
  target: string,
  details: ClusterBackupDetails,
  files: Map<number, BundleEntry>,
): Promise<ClusterRestorePlan> {
  const byKey = new Map<string, number>();
  let shardIds: number[];
  let where: Map<number, { peerId?: number; url: string }>;
  if (cluster) {
    const placed = await planClusterCollection(cluster, target);
    shardIds = placed.shards.map((s) => s.shardId);
    where = new Map(placed.shards.map((s) => [s.shardId, { peerId: s.peerId, url: s.url }]));
    for (const s of placed.shards) if (s.shardKey !== undefined) byKey.set(String(s.shardKey), s.shardId);
  } else {
    const info = await api.collectionCluster(target);
    shardIds = info.local_shards.map((s) => s.shard_id);
    where = new Map(shardIds.map((id) => [id, { url: api.baseUrl }]));
    for (const s of info.local_shards)
      if (s.shard_key !== undefined && s.shard_key !== null) byKey.set(String(s.shard_key), s.shard_id);
  }
  if (shardIds.length !== details.shards.length) {
    throw new QnbError(
      'E_REFUSED',
      `qdrant: "${target}" has ${shardIds.length} shards on the target, the backup holds ${details.shards.length}`,
      {
        hint: 'restore into a new collection (--as NEW_NAME) so qnb creates it with the recorded shard_number',
      },
    );
  }
  const uploads = details.shards.map((s) => {
    const to = s.shardKey === undefined ? s.shardId : byKey.get(String(s.shardKey));
    const dest = to === undefined ? undefined : where.get(to);
    if (to === undefined || !dest) {
      throw new QnbError(
        'E_REFUSED',
        `qdrant: no shard on the target matches shard ${s.shardId} of the backup`,
        {
          hint: 'restore into a new collection (--as NEW_NAME)',
        },
      );
    }
    return { shardId: s.shardId, toShardId: to, ...dest, bytes: files.get(s.shardId)!.size };
  });
  return {
    collection: target,
    topology: cluster ? `cluster of ${cluster.nodes.length} peers` : 'single node',
    shardNumber: details.shardNumber,
    uploads,
  };
}

/** One line per step of the plan. */
export function describePlan(plan: ClusterRestorePlan): string {
  const lines = plan.uploads.map(
    (u) =>
      `shard ${u.shardId} → shard ${u.toShardId} on ${u.peerId === undefined ? u.url : `peer ${u.peerId} (${u.url})`}`,
  );
  return `restore plan for "${plan.collection}" (${plan.topology}, ${plan.uploads.length} shards): ${lines.join('; ')}`;
}

/**
 * What `restore-qdrant --dry-run` prints: the steps a restore of `artifact` into `target` would
 * take on the server behind `api`, without changing anything.
 */
export async function dryRunPlan(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  target: string,
  exists: boolean,
): Promise<string[]> {
  const details = clusterDetails(artifact);
  const cluster = await discoverClusterOf(api);
  try {
    const where = cluster ? `a cluster of ${cluster.nodes.length} peers` : `a single node (${api.baseUrl})`;
    const lines = [`target: "${target}" on ${where}`];
    if (exists) lines.push(`"${target}" exists: safety backup first, then it is replaced`);
    if (!details) {
      const to = cluster ? 'every node, entry first (each recovers its own shards)' : api.baseUrl;
      lines.push(
        `upload ${artifact.file} (${artifact.bytes} bytes) as a collection snapshot to ${to}, priority=snapshot`,
      );
    } else {
      const files = members(await readBundleIndex(filePath), details, artifact.file);
      const rf = Math.max(1, Math.min(details.replicationFactor, cluster?.nodes.length ?? 1));
      lines.push(
        details.shardingMethod === 'custom'
          ? `create "${target}" (custom sharding, shard keys ${details.shardKeys.join(', ')}, replication_factor ${rf})`
          : `create "${target}" with shard_number ${details.shardNumber}, replication_factor ${rf}, the recorded vectors and config`,
      );
      const indexes = Object.keys(recordedPayloadSchema(artifact) ?? {});
      if (indexes.length) lines.push(`create the recorded payload indexes: ${indexes.join(', ')}`);
      for (const s of details.shards) {
        const key = s.shardKey === undefined ? '' : ` (key ${s.shardKey})`;
        lines.push(
          `upload shard ${s.shardId}${key}: ${files.get(s.shardId)!.size} bytes to a node holding it (read from /collections/${target}/cluster after creation), priority=snapshot`,
        );
      }
    }
    lines.push(
      `then check ${JSON.stringify(artifact.counts)} exact and ${artifact.sample?.length ?? 0} sampled points`,
    );
    return lines;
  } finally {
    await closeCluster(cluster, api);
  }
}
