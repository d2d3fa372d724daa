/**
 * Custom sharding and shard ids (src/targets/qdrant/qdrant-shard-layout.ts): the mapping read
 * from a snapshot file in both of Qdrant's forms, and the refusal of a cluster backup with
 * several shards per key, before anything is changed.
 */
import assert from 'node:assert/strict';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import {
  CLUSTER_FORMAT,
  type ClusterBackupDetails,
} from '../../src/targets/qdrant/qdrant-cluster-details.js';
import { checkShardingRestorable } from '../../src/targets/qdrant/qdrant-restore.js';
import { severalShardsPerKey, snapshotShardKeyIds } from '../../src/targets/qdrant/qdrant-shard-layout.js';
import { bundleStream } from '../../src/targets/qdrant/shard-bundle.js';

async function tarWith(t: { after: (f: () => Promise<void>) => void }, members: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-shard-layout-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'c.snapshot');
  const inputs = Object.entries(members).map(([name, text]) => {
    const b = Buffer.from(text);
    return { name, size: b.length, open: () => b };
  });
  await pipeline(Readable.from(bundleStream(inputs)), createWriteStream(path));
  return path;
}

test('the shard key mapping of a snapshot: the map form, the list form, none', async (t) => {
  const big = 'x'.repeat(5000);
  const mapForm = await tarWith(t, {
    'config.json': '{}',
    '0/segment.bin': big,
    'shard_key_mapping.json': '{"eu":[2,1],"us":[3]}',
  });
  assert.deepEqual(
    [...((await snapshotShardKeyIds(mapForm)) ?? [])],
    [
      ['eu', [1, 2]],
      ['us', [3]],
    ],
  );
  const listForm = await tarWith(t, {
    'shard_key_mapping.json': '[{"key":7,"shard_ids":[1]},{"key":"us","shard_ids":[2]}]',
  });
  assert.deepEqual(
    [...((await snapshotShardKeyIds(listForm)) ?? [])],
    [
      ['7', [1]],
      ['us', [2]],
    ],
  );
  assert.equal(await snapshotShardKeyIds(await tarWith(t, { 'config.json': '{}' })), undefined);
  assert.equal(await snapshotShardKeyIds(await tarWith(t, { 'shard_key_mapping.json': '{' })), undefined);
});

test('a cluster backup with several shards for one key is refused before anything changes', () => {
  const shard = (shardId: number, shardKey: string) => ({
    shardId,
    shardKey,
    peerId: 1,
    member: `shard-${shardId}.snapshot`,
    bytes: 1,
    sha256: '0'.repeat(64),
    serverChecksum: null,
    points: 1,
    snapshotName: 's',
  });
  const details = (shards: ReturnType<typeof shard>[]): ClusterBackupDetails => ({
    format: CLUSTER_FORMAT,
    peers: [{ peerId: 1, uri: 'http://127.0.0.1:6335' }],
    shardNumber: 2,
    replicationFactor: 1,
    shardingMethod: 'custom',
    shardKeys: shards.map((s) => s.shardKey),
    shards,
  });
  const one = details([shard(1, 'eu'), shard(2, 'us')]);
  const two = details([shard(1, 'eu'), shard(2, 'eu'), shard(3, 'us'), shard(4, 'us')]);
  assert.equal(severalShardsPerKey(one), undefined);
  assert.equal(severalShardsPerKey({ ...two, shardingMethod: 'auto' }), undefined);
  assert.match(severalShardsPerKey(two) ?? '', /^2 shards for shard key eu \(shards 1, 2\)/);
  const artifact = {
    name: 'tenants',
    file: 'qdrant/tenants.shards.tar',
    details: { config: { params: { sharding_method: 'custom' } }, cluster: two },
  } as unknown as ArtifactRecord;
  assert.throws(
    () => checkShardingRestorable(artifact, 'tenants', true),
    (e: Error & { code?: string }) =>
      e.code === 'E_UNSUPPORTED' && /"tenants" has 2 shards for shard key eu/.test(e.message),
  );
  checkShardingRestorable({ ...artifact, details: { ...artifact.details, cluster: one } }, 'tenants', true);
});
