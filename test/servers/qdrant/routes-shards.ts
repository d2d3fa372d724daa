/**
 * Shard snapshot routes (`/collections/{c}/shards/{id}/snapshots…`) and the cluster-mode rules
 * of collection snapshots: a node snapshots only its local shards, and a snapshot missing shards
 * cannot be recovered on a single node (Qdrant's ShardReplicaSet::restore_snapshot).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { inShard, shardIds } from './cluster.js';
import { type Ctx, type Env, finishMutation, type Route } from './context.js';
import {
  badInput,
  boolParam,
  checkChecksum,
  checkPriority,
  drain,
  HttpError,
  hashesEqual,
  notFound,
  sendOk,
  serviceError,
  validationError,
} from './http-util.js';
import { snapshotFileRoutes } from './routes-snapshot-files.js';
import { describe, listSnapshots, storeSnapshot, tempFile, timestamp } from './snapshot-files.js';
import {
  readCollectionSnapshot,
  type SnapshotContent,
  snapshotMeta,
  writeCollectionSnapshot,
} from './snapshot-format.js';
import { type CollectionState, checkCollectionName } from './store.js';
import type { StoredPoint } from './types.js';
import { spoolUpload } from './upload.js';

/**
 * What a collection snapshot through this node holds: every shard, or (cluster) the local ones,
 * and the collection's payload index schema (which shard snapshots do not carry).
 */
export function localContent(env: Env, c: CollectionState): SnapshotContent {
  const base = {
    collection: c.name,
    config: structuredClone(c.config),
    shardKeys: [...c.shardKeys],
    payloadSchema: structuredClone(c.payloadSchema),
  };
  const all = [...env.store.sorted(c)];
  if (!env.cluster) return { ...base, points: all };
  const shards = env.cluster.cluster.localShards(c, env.peerId);
  const points = all.filter((p) => shards.some((s) => inShard(c, p, s)));
  return { ...base, points, shards };
}

/** A snapshot missing shards cannot be restored on a single node: 500, like Qdrant. */
export function checkShardsPresent(env: Env, content: SnapshotContent): void {
  if (!content.shards || env.cluster) return;
  const params = content.config.params as Record<string, unknown>;
  const expected =
    params.sharding_method === 'custom'
      ? content.shardKeys.map((_, i) => i + 1)
      : Array.from({ length: Number(params.shard_number) }, (_, i) => i);
  const missing = expected.find((id) => !content.shards!.includes(id));
  if (missing === undefined) return;
  const at = join(env.snapshotsDir, 'tmp', `${content.collection}-${randomUUID()}`, '0', String(missing));
  throw serviceError(`Can't restore snapshot in local mode with missing data at shard: ${at}`);
}

/**
 * Collection snapshot recovery on a node of a cluster (Qdrant's `_do_recover_from_snapshot` with
 * `is_distributed`): a missing collection is created from the snapshot config (placed over the
 * whole cluster); then only the shards local to THIS node are recovered, from the snapshot's data
 * for that shard (shards the snapshot lacks are left as they are). Other nodes' shards are not
 * touched: restoring a collection snapshot into a cluster means uploading it to every node.
 */
export function recoverOnClusterNode(env: Env, target: string, content: SnapshotContent): boolean {
  const member = env.cluster!;
  let c = env.store.find(target);
  if (!c) {
    checkCollectionName(target);
    const custom = (content.config.params as Record<string, unknown>).sharding_method === 'custom';
    c = env.store.create(target, content.config, custom ? content.shardKeys : [], content.payloadSchema);
  }
  const want = (c.config.params as Record<string, unknown>).shard_number;
  const have = (content.config.params as Record<string, unknown>).shard_number;
  if (want !== have) {
    throw badInput(
      `Snapshot is not compatible with existing collection: Collection shard number: ${String(want)} Snapshot shard number: ${String(have)}`,
    );
  }
  const col = c;
  const recovered = member.cluster
    .localShards(col, member.peerId)
    .filter((s) => !content.shards || content.shards.includes(s));
  const mine = (p: StoredPoint) => recovered.some((s) => inShard(col, p, s));
  const keep = [...col.points.values()].filter((p) => !mine(p));
  env.store.replace(col, col.config, col.shardKeys, [...keep, ...content.points.filter(mine)]);
  return true;
}

/** The collection and a shard id that exists and is local to this node (404 / 400 otherwise). */
function localShard(ctx: Ctx): { c: CollectionState; shardId: number } {
  const c = ctx.env.store.get(ctx.params.name!);
  const raw = ctx.params.shard!;
  if (!/^\d+$/.test(raw)) throw validationError('path parameters', `shard_id: invalid digit found in string`);
  const shardId = Number(raw);
  if (!shardIds(c).some((s) => s.shardId === shardId)) throw notFound(`shard ${shardId}`);
  const member = ctx.env.cluster;
  if (member && !member.cluster.localShards(c, member.peerId).includes(shardId)) {
    throw badInput(`Shard ${shardId} is not a local shard`);
  }
  return { c, shardId };
}

const shardDir = (ctx: Ctx, c: CollectionState, shardId: number) =>
  join(ctx.env.snapshotsDir, c.name, 'shards', String(shardId));

async function createShardSnapshot(ctx: Ctx): Promise<void> {
  const { env } = ctx;
  const wait = boolParam(ctx.query, 'wait', true);
  const { c, shardId } = localShard(ctx);
  const content: SnapshotContent = {
    collection: c.name,
    config: structuredClone(c.config),
    shardKeys: [...c.shardKeys],
    points: env.store.sorted(c).filter((p) => inShard(c, p, shardId)),
    shards: [shardId],
  };
  const name = `${c.name}-shard-${shardId}-${env.peerId}-${timestamp()}.snapshot`;
  const meta = snapshotMeta(env, c.name);
  await finishMutation(ctx, wait, async () => {
    const tmp = await tempFile(env.tmpDir, 'shard-snapshot');
    try {
      const written = await writeCollectionSnapshot(tmp, content, meta);
      const dir = shardDir(ctx, c, shardId);
      await mkdir(dir, { recursive: true });
      await storeSnapshot(tmp, join(dir, name), written.sha256);
      return describe(join(dir, name), name);
    } finally {
      await rm(tmp, { force: true });
    }
  });
}

async function uploadShardSnapshot(ctx: Ctx): Promise<void> {
  const { env, query, req } = ctx;
  let wait: boolean;
  let checksum: string | null;
  let target: { c: CollectionState; shardId: number };
  try {
    target = localShard(ctx);
    wait = boolParam(query, 'wait', true);
    checkPriority(query.priority, 'query parameters');
    checksum = checkChecksum(query.checksum, 'query parameters');
  } catch (e) {
    await drain(req);
    throw e;
  }
  const main = ctx.faults.main;
  const spooled = await spoolUpload(ctx, main?.kind === 'reset' ? (main.afterBytes ?? 0) : undefined);
  const dest = join(env.tmpDir, `shard-upload-${randomUUID()}.snapshot`);
  try {
    if (checksum && !hashesEqual(spooled.sha256, checksum)) {
      throw new HttpError(400, `Checksum mismatch: expected ${spooled.sha256}, actual ${checksum}`);
    }
    await rename(spooled.path, dest);
  } finally {
    await rm(spooled.path, { force: true });
  }
  env.recoveries.push({
    source: 'upload',
    collection: `${target.c.name}/shards/${target.shardId}`,
    priority: query.priority ?? null,
    checksum,
    wait,
    location: spooled.filename ?? '',
  });
  await finishMutation(ctx, wait, async () => {
    try {
      const content = await readCollectionSnapshot(dest);
      const { c, shardId } = target;
      const keep = [...c.points.values()].filter((p) => !inShard(c, p, shardId));
      env.store.replace(c, c.config, c.shardKeys, [...keep, ...content.points]);
      return true;
    } finally {
      await rm(dest, { force: true });
    }
  });
}

/** Routes of this module (fault ops shared with collection snapshots). */
export const shardRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/collections/{name}/shards/{shard}/snapshots',
    op: 'create-snapshot',
    write: true,
    handler: createShardSnapshot,
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/shards/{shard}/snapshots',
    op: 'list-snapshots',
    write: false,
    handler: async (ctx) => {
      const { c, shardId } = localShard(ctx);
      sendOk(ctx.res, ctx.start, await listSnapshots(shardDir(ctx, c, shardId)));
    },
  },
  {
    method: 'POST',
    pattern: '/collections/{name}/shards/{shard}/snapshots/upload',
    op: 'upload-snapshot',
    write: true,
    handler: uploadShardSnapshot,
  },
  ...snapshotFileRoutes(
    '/collections/{name}/shards/{shard}/snapshots/{snapshot}',
    { download: 'download-snapshot', remove: 'delete-snapshot' },
    (ctx) => {
      const { c, shardId } = localShard(ctx);
      return shardDir(ctx, c, shardId);
    },
  ),
];
