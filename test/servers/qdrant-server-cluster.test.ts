/**
 * Cluster mode of the Qdrant test server: three nodes on their own ports share one placement;
 * each serves only its local shards for snapshots; shard snapshot API; partial collection
 * snapshots cannot be restored on a single node. Every response is validated against the spec.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type QdrantTestCluster, startQdrantTestCluster } from './qdrant/cluster.js';
import { call, downloadSnapshot, sha256, uploadFile, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();
let work: string;
let cluster: QdrantTestCluster;

const points = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ id: i + 1, vector: [i, 1, 2, 3], payload: { n: i } }));

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'qdrant-cluster-test-'));
  cluster = await startQdrantTestCluster({ nodes: 3, start: (o) => servers.start(o) });
  const [a, b] = cluster.nodes;
  const created = await call(a!, 'PUT', '/collections/docs', {
    vectors: { size: 4, distance: 'Dot' },
    shard_number: 6,
    replication_factor: 1,
  });
  assert.equal(created.status, 200);
  const up = await call(b!, 'PUT', '/collections/docs/points?wait=true', { points: points(60) });
  assert.equal(up.status, 200);
});

after(async () => {
  await cluster.stop();
  await servers.stopAll();
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
});

type Info = {
  peer_id: number;
  shard_count: number;
  local_shards: { shard_id: number; points_count: number; state: string }[];
  remote_shards: { shard_id: number; peer_id: number; state: string }[];
};

describe('cluster mode', () => {
  test('GET /cluster: enabled, own peer id, peers with p2p URIs', async () => {
    for (const [i, node] of cluster.nodes.entries()) {
      const res = (await call(node, 'GET', '/cluster')).json.result as Record<string, unknown>;
      assert.equal(res.status, 'enabled');
      assert.equal(res.peer_id, cluster.peerIds[i]);
      const peers = res.peers as Record<string, { uri: string }>;
      assert.deepEqual(Object.keys(peers).map(Number).sort(), [...cluster.peerIds].sort());
      assert.ok(!Object.values(peers).some((p) => cluster.urls.includes(p.uri.replace(/\/$/, ''))));
    }
  });

  test('collection cluster info: 6 shards spread over the nodes, reads through any node see all', async () => {
    const seen = new Map<number, number>();
    for (const [i, node] of cluster.nodes.entries()) {
      const info = (await call(node, 'GET', '/collections/docs/cluster')).json.result as Info;
      assert.equal(info.peer_id, cluster.peerIds[i]);
      assert.equal(info.shard_count, 6);
      assert.equal(info.local_shards.length + info.remote_shards.length, 6);
      for (const s of info.local_shards) seen.set(s.shard_id, s.points_count);
      const count = await call(node, 'POST', '/collections/docs/points/count', { exact: true });
      assert.equal((count.json.result as { count: number }).count, 60);
    }
    assert.deepEqual([...seen.keys()].sort(), [0, 1, 2, 3, 4, 5]);
    assert.equal(
      [...seen.values()].reduce((a, b) => a + b, 0),
      60,
    );
  });

  test('collection snapshot through one node holds only its shards; single node refuses it (500)', async () => {
    const node = cluster.nodes[0]!;
    const info = (await call(node, 'GET', '/collections/docs/cluster')).json.result as Info;
    const local = info.local_shards.reduce((a, s) => a + s.points_count, 0);
    assert.ok(local > 0 && local < 60);
    const snap = (await call(node, 'POST', '/collections/docs/snapshots?wait=true')).json.result as {
      name: string;
    };
    const bytes = await downloadSnapshot(node, `/collections/docs/snapshots/${snap.name}`);
    const file = join(work, 'partial.snapshot');
    await writeFile(file, bytes);
    const single = await servers.start();
    const res = await uploadFile(
      `${single.url}/collections/docs/snapshots/upload?wait=true&priority=snapshot`,
      file,
      'partial.snapshot',
    );
    assert.equal(res.status, 500);
    assert.match(
      JSON.parse(res.body).status.error,
      /^Service internal error: Can't restore snapshot in local mode with missing data at shard: .*\/\d+$/,
    );
    assert.deepEqual(single.collections(), []);
  });

  test('shard snapshots: only on a node holding the shard; upload per shard rebuilds every point', async () => {
    const single = await servers.start();
    await call(single, 'PUT', '/collections/copy', {
      vectors: { size: 4, distance: 'Dot' },
      shard_number: 6,
    });
    for (const [i, node] of cluster.nodes.entries()) {
      const info = (await call(node, 'GET', '/collections/docs/cluster')).json.result as Info;
      for (const r of info.remote_shards) {
        const res = await call(node, 'POST', `/collections/docs/shards/${r.shard_id}/snapshots?wait=true`);
        assert.equal(res.status, 400);
        assert.equal(
          (res.json.status as { error: string }).error,
          `Wrong input: Shard ${r.shard_id} is not a local shard`,
        );
      }
      for (const s of info.local_shards) {
        const base = `/collections/docs/shards/${s.shard_id}/snapshots`;
        const desc = (await call(node, 'POST', `${base}?wait=true`)).json.result as {
          name: string;
          size: number;
          checksum: string;
        };
        const listed = (await call(node, 'GET', base)).json.result as { name: string }[];
        assert.deepEqual(
          listed.map((x) => x.name),
          [desc.name],
        );
        const bytes = await downloadSnapshot(node, `${base}/${desc.name}`);
        assert.equal(sha256(bytes), desc.checksum);
        const file = join(work, `shard-${i}-${s.shard_id}.snapshot`);
        await writeFile(file, bytes);
        assert.equal((await call(node, 'DELETE', `${base}/${desc.name}?wait=true`)).status, 200);
        const up = await uploadFile(
          `${single.url}/collections/copy/shards/${s.shard_id}/snapshots/upload?priority=snapshot&wait=true`,
          file,
          'shard.snapshot',
        );
        assert.equal(up.status, 200, up.body);
      }
    }
    assert.deepEqual(single.points('copy'), cluster.nodes[0]!.points('docs'));
    const missing = await call(single, 'POST', '/collections/copy/shards/9/snapshots?wait=true');
    assert.equal(missing.status, 404);
  });

  test("a full collection snapshot uploaded to one node recovers only that node's shards", async () => {
    const single = await servers.start();
    await call(single, 'PUT', '/collections/solo', {
      vectors: { size: 4, distance: 'Dot' },
      shard_number: 3,
    });
    await call(single, 'PUT', '/collections/solo/points?wait=true', { points: points(30) });
    const snap = (await call(single, 'POST', '/collections/solo/snapshots?wait=true')).json.result as {
      name: string;
    };
    const file = join(work, 'solo.snapshot');
    await writeFile(file, await downloadSnapshot(single, `/collections/solo/snapshots/${snap.name}`));
    const counts: number[] = [];
    for (const node of cluster.nodes) {
      const up = await uploadFile(
        `${node.url}/collections/solo/snapshots/upload?wait=true&priority=snapshot`,
        file,
        's',
      );
      assert.equal(up.status, 200, up.body);
      counts.push(node.points('solo').length);
    }
    assert.ok(counts[0]! < 30, `first node recovered only its shards (${counts[0]})`);
    assert.equal(counts[2], 30);
    assert.deepEqual(cluster.nodes[0]!.points('solo'), single.points('solo'));
  });

  test('replication 2: every shard on two nodes; a node can be taken down and back up', async () => {
    const [a] = cluster.nodes;
    await call(a!, 'PUT', '/collections/rep', {
      vectors: { size: 4, distance: 'Dot' },
      shard_number: 3,
      replication_factor: 2,
    });
    const info = (await call(a!, 'GET', '/collections/rep/cluster')).json.result as Info;
    const replicas = info.local_shards.length + info.remote_shards.length;
    assert.equal(replicas, 6);
    await cluster.down(2);
    const gone = await fetch(`${cluster.urls[2]}/cluster`).then(
      () => 'answered',
      () => 'refused',
    );
    assert.equal(gone, 'refused');
    const status = (await call(a!, 'GET', '/cluster')).json.result as Record<string, unknown>;
    assert.equal(Object.keys(status.message_send_failures as object).length, 1);
    await cluster.up(2);
    assert.equal((await call(cluster.nodes[2]!, 'GET', '/collections/rep/cluster')).status, 200);
  });
});
