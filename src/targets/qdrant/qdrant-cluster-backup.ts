/**
 * Backup of collections of a distributed Qdrant: preflight (cluster detection and one plan per
 * collection, before anything is written), then one shard snapshot per shard, each from a node
 * holding an Active replica, downloaded with the same checksum and fsync guarantees as
 * collection snapshots, bundled into one tar file (shard-bundle.ts) and committed only when
 * every shard is there.
 */

import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { withoutUserInfo } from '../../config/redact.js';
import { ConfigError, QnbError, throwIfAborted } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { streamToFile } from '../../core/transfer.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import { describeCollection } from './qdrant-backup.js';
import {
  type ClusterCollectionPlan,
  closeCluster,
  discoverClusterOf,
  fullOnClusterError,
  planClusterCollection,
  type QdrantCluster,
  ReplicaStateError,
  requireActive,
  type ShardSource,
} from './qdrant-cluster.js';
import {
  CLUSTER_FORMAT,
  type ClusterBackupDetails,
  type ShardFileRecord,
  TOPOLOGY_MEMBER,
} from './qdrant-cluster-details.js';
import { countPoints } from './qdrant-count.js';
import { download } from './qdrant-download.js';
import { severalShardsPerKey } from './qdrant-shard-layout.js';
import { createSnapshotOnce } from './qdrant-snapshot-create.js';
import { type BundleInput, bundleStream } from './shard-bundle.js';

/** What the manager needs to back up a cluster's collections. */
export interface PreparedClusterBackup {
  cluster: QdrantCluster;
  plans: Map<string, ClusterCollectionPlan>;
  backup(collection: string, sink: ArtifactSink): Promise<ArtifactRecord>;
  close(): Promise<void>;
}

/** Options of prepareClusterBackup. */
export interface ClusterBackupOptions {
  full: boolean;
  scopes: (string | null)[];
  serverVersion: string;
  keepServerSnapshot: boolean;
  /** Shard downloads at once (different nodes first). @default 2 */
  parallel?: number;
  /** Points probed with their exact top-10 neighbours (drill.qdrantSamples). @default 20 */
  probeSamples?: number;
  ctx: TargetContext;
}

/**
 * `undefined` on a single node (nothing changes). On a cluster: refuses `--full`, plans every
 * collection (throwing the one-line ConfigError when a shard cannot be read), and returns the
 * per-collection backup.
 */
export async function prepareClusterBackup(
  entry: QdrantApi,
  opts: ClusterBackupOptions,
): Promise<PreparedClusterBackup | undefined> {
  let cluster: QdrantCluster | undefined;
  try {
    cluster = await discoverClusterOf(entry);
  } catch (err) {
    if (!(err instanceof QnbError && err.code === 'E_AUTH' && err.message.includes('(403)'))) throw err;
    await refuseIfSpread(entry, opts.scopes);
    return undefined;
  }
  if (!cluster) return undefined;
  const close = () => closeCluster(cluster, entry);
  try {
    if (opts.full) throw fullOnClusterError(cluster, entry);
    const plans = new Map<string, ClusterCollectionPlan>();
    for (const scope of opts.scopes) {
      if (scope !== null) plans.set(scope, await planClusterCollection(cluster, scope));
    }
    return {
      cluster,
      plans,
      close,
      backup: (collection, sink) =>
        backupClusterCollection(entry, cluster, plans.get(collection)!, sink, opts),
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * A key limited to some collections may not read `GET /cluster` (403). The collection's own
 * `/collections/{c}/cluster` still tells whether it is spread over several peers: then refuse
 * (a collection snapshot would be partial); else it is a single node, as before.
 */
async function refuseIfSpread(entry: QdrantApi, scopes: (string | null)[]): Promise<void> {
  for (const scope of scopes) {
    if (scope === null) continue;
    const info = await entry.collectionCluster(scope);
    if (info.remote_shards.length > 0 || info.local_shards.length < info.shard_count) {
      throw new ConfigError(
        `qdrant ${entry.baseUrl}: collection "${scope}" is spread over several peers (${info.shard_count} shards, ${info.local_shards.length} on this node) but this API key may not read GET /cluster; nothing was backed up`,
        'use a key that may read the cluster status, and set QDRANT_NODE_URLS to the REST URL of every node',
      );
    }
  }
}

/** Shards ordered so that consecutive ones come from different nodes (parallel downloads). */
function interleave(shards: ShardSource[]): ShardSource[] {
  const byPeer = new Map<number, ShardSource[]>();
  for (const s of shards) byPeer.set(s.peerId, [...(byPeer.get(s.peerId) ?? []), s]);
  const out: ShardSource[] = [];
  const queues = [...byPeer.values()];
  while (out.length < shards.length) for (const q of queues) if (q.length) out.push(q.shift()!);
  return out;
}

/** Runs `work` over `items`, at most `limit` at once; the first failure stops new work. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (err) {
        failed ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed !== undefined) throw failed;
}

async function backupClusterCollection(
  entry: QdrantApi,
  cluster: QdrantCluster,
  plan: ClusterCollectionPlan,
  sink: ArtifactSink,
  opts: ClusterBackupOptions,
): Promise<ArtifactRecord> {
  const { ctx } = opts;
  const collection = plan.collection;
  const startedAt = ctx.now();
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: collection,
    message: `cluster: ${plan.shardCount} shard snapshots of "${collection}" from ${new Set(plan.shards.map((s) => s.peerId)).size} nodes`,
  });
  const before = await describeCollection(entry, collection, 3, ctx, opts.probeSamples ?? 20);
  const reserved = await sink.reserve('qdrant', `${collection}-backup`, '.shards.tar');
  const files = new Map<number, ShardFileRecord & { path: string }>();
  let committed = false;
  try {
    await pool(interleave(plan.shards), opts.parallel ?? 2, async (shard) => {
      throwIfAborted(ctx.signal);
      const path = `${reserved.tempPath}.shard-${shard.shardId}`;
      const sources = [{ peerId: shard.peerId, url: shard.url }, ...shard.fallbacks];
      let lastErr: unknown;
      for (const source of sources) {
        const api = cluster.nodes.find((n) => n.peerId === source.peerId)!.api!;
        try {
          // Qdrant snapshots a replica whatever its state: read only one Active from start to end
          await requireActive(api, collection, shard.shardId, source.peerId, 'before');
          const got = await shardSnapshot(api, collection, shard.shardId, path, reserved.rel, opts);
          await requireActive(api, collection, shard.shardId, source.peerId, 'after');
          files.set(shard.shardId, {
            shardId: shard.shardId,
            ...(shard.shardKey === undefined ? {} : { shardKey: shard.shardKey }),
            peerId: source.peerId,
            member: `shard-${shard.shardId}.snapshot`,
            points: shard.points,
            path,
            ...got,
          });
          return;
        } catch (err) {
          lastErr = err;
          await rm(path, { force: true });
          throwIfAborted(ctx.signal);
          const next =
            err instanceof QnbError && (err.code === 'E_CONNECT' || err instanceof ReplicaStateError);
          if (!next || source === sources.at(-1)) break;
          ctx.reporter.emit({
            type: 'warning',
            target: 'qdrant',
            name: collection,
            message: `shard ${shard.shardId} from peer ${source.peerId} failed (${err.message}); trying another Active replica`,
          });
        }
      }
      throw lastErr;
    });
    // valid only when every shard is there
    const missing = plan.shards.filter((s) => !files.has(s.shardId)).map((s) => s.shardId);
    if (missing.length > 0) {
      throw new QnbError(
        'E_SERVER',
        `qdrant cluster: shards ${missing.join(', ')} of "${collection}" missing`,
      );
    }
    const after = (await countPoints(entry, collection)).count;
    const params = ((before.config as Record<string, unknown> | null)?.params ?? {}) as Record<
      string,
      unknown
    >;
    const shards = plan.shards.map((s) => {
      const { path: _path, ...rec } = files.get(s.shardId)!;
      return rec;
    });
    const details: ClusterBackupDetails = {
      format: CLUSTER_FORMAT,
      peers: cluster.nodes.map((n) => ({
        peerId: n.peerId,
        uri: n.p2pUri,
        ...(n.url ? { url: withoutUserInfo(n.url) } : {}),
      })),
      shardNumber: Number(params.shard_number ?? plan.shardCount),
      replicationFactor: Number(params.replication_factor ?? 1),
      shardingMethod: params.sharding_method === 'custom' ? 'custom' : 'auto',
      shardKeys: shards.flatMap((s) => (s.shardKey === undefined ? [] : [s.shardKey])),
      shards,
    };
    const unrestorable = severalShardsPerKey(details);
    if (unrestorable) {
      ctx.reporter.emit({
        type: 'warning',
        target: 'qdrant',
        name: collection,
        message: `"${collection}" has ${unrestorable}: the backup holds every shard, but restoring it is by hand (docs/qdrant.md)`,
      });
    }
    const topology = Buffer.from(
      JSON.stringify(
        { collection, config: before.config, aliases: before.aliases, points: before.points, ...details },
        null,
        2,
      ),
    );
    const inputs: BundleInput[] = [
      { name: TOPOLOGY_MEMBER, size: topology.length, open: () => topology },
      ...plan.shards.map((s) => {
        const f = files.get(s.shardId)!;
        return { name: f.member, size: f.bytes, open: () => createReadStream(f.path) };
      }),
    ];
    const bundle = await streamToFile(Readable.from(bundleStream(inputs)), reserved.tempPath, {
      signal: ctx.signal,
    });
    const points = before.points;
    // deferred points (prevent_unoptimized): the count is a lower bound only, as in qdrant-backup.ts
    const counts =
      'deferredPoints' in before
        ? { pointsMin: Math.min(points, after) }
        : after === points
          ? { points }
          : { pointsMin: Math.min(points, after), pointsMax: Math.max(points, after) };
    if (after !== points) {
      ctx.reporter.emit({
        type: 'warning',
        target: 'qdrant',
        name: collection,
        message: `points changed during the snapshot (${points} → ${after})`,
      });
    }
    const record: ArtifactRecord = {
      target: 'qdrant',
      kind: 'qdrant-collection',
      name: collection,
      file: reserved.rel,
      status: 'pending',
      bytes: bundle.bytes,
      sha256: bundle.sha256,
      serverChecksum: null,
      checksumSource: 'self',
      serverVersion: opts.serverVersion,
      counts,
      sample: before.sample,
      startedAt: startedAt.toISOString(),
      finishedAt: ctx.now().toISOString(),
      durationMs: ctx.now().getTime() - startedAt.getTime(),
      details: {
        serverUrl: withoutUserInfo(entry.baseUrl),
        config: before.config,
        payloadSchema: before.payloadSchema,
        aliases: before.aliases,
        ...('countMethod' in before ? { countMethod: before.countMethod } : {}),
        ...('deferredPoints' in before ? { deferredPoints: true } : {}),
        cluster: details,
      },
    };
    await sink.commit(record, reserved.tempPath);
    committed = true;
    return record;
  } finally {
    for (const s of plan.shards) await rm(`${reserved.tempPath}.shard-${s.shardId}`, { force: true });
    if (!committed) await sink.discard(reserved.tempPath);
  }
}

/** One shard snapshot: created on the node, downloaded and checked, deleted on the server. */
async function shardSnapshot(
  api: QdrantApi,
  collection: string,
  shard: number,
  path: string,
  rel: string,
  opts: ClusterBackupOptions,
): Promise<{ bytes: number; sha256: string; serverChecksum: string | null; snapshotName: string }> {
  const scope = { collection, shard };
  const snap = await createSnapshotOnce(api, scope, opts.ctx, {
    keepServerSnapshot: opts.keepServerSnapshot,
  });
  try {
    const got = await download(api, scope, snap, path, rel, opts.ctx);
    return {
      bytes: got.bytes,
      sha256: got.sha256,
      serverChecksum: snap.checksum ?? null,
      snapshotName: snap.name,
    };
  } finally {
    if (!opts.keepServerSnapshot) {
      await api.deleteSnapshot(scope, snap.name).catch((err: Error) =>
        opts.ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          name: collection,
          message: `could not delete ${snap.name} on ${api.baseUrl}: ${err.message}`,
        }),
      );
    }
  }
}
