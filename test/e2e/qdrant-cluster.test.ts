/**
 * Distributed Qdrant (3-node test cluster): qnb never writes a partial backup. Detection happens
 * before anything is written; shard snapshots per shard; restores into a cluster or a single node.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type QnbRun, qnbEnv, runQnb } from '../helpers/cli.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { tempDir } from '../helpers/tmp.js';
import { type QdrantTestCluster, startQdrantTestCluster } from '../servers/qdrant/cluster.js';

let cluster: QdrantTestCluster;

async function put(url: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${url}${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 200, await res.text());
}

/** A collection of `n` points with vectors and payloads, written through node `via`. */
async function seed(name: string, shards: number, rf: number, n: number, via = 0): Promise<void> {
  const url = cluster.urls[via]!;
  await put(url, `/collections/${name}`, {
    vectors: { size: 3, distance: 'Cosine' },
    shard_number: shards,
    replication_factor: rf,
  });
  const points = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    vector: [i + 1, (i % 7) + 0.5, 1],
    payload: { title: `p${i}`, n: i, tags: [i % 3] },
  }));
  await put(url, `/collections/${name}/points?wait=true`, { points });
}

before(async () => {
  cluster = await startQdrantTestCluster({ nodes: 3 });
  await seed('docs', 6, 1, 300);
  await seed('rep', 3, 2, 120);
});

after(async () => {
  await cluster.stop();
});

async function world(t: Parameters<typeof tempDir>[0]) {
  const cwd = await tempDir(t);
  const backupDir = join(cwd, 'backups');
  const qnb = (args: string[], env: Record<string, string | undefined> = {}): Promise<QnbRun> =>
    runQnb(args, { cwd, env: qnbEnv({ QDRANT_URL: cluster.urls[0], ...env }) });
  const listed = async () => {
    const r = await qnb(['list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    return (JSON.parse(r.stdout) as { backups: { file: string; valid: boolean; name: string }[] }).backups;
  };
  const files = async () => readdir(join(backupDir, 'qdrant')).catch(() => [] as string[]);
  return { cwd, backupDir, qnb, listed, files };
}

const allNodes = () => cluster.urls.join(',');

describe('detection before anything is written', () => {
  test('a cluster with no node list: one clear failure naming the shards and peers, nothing listed valid', async (t) => {
    const w = await world(t);
    const run = await w.qnb(['backup-qdrant', '--collection', 'docs']);
    assert.notEqual(run.code, 0, run.stdout);
    assert.ok(!hasStackTrace(run), run.stderr);
    const out = run.stdout + run.stderr;
    assert.match(out, /collection "docs": shards [\d, ]+ have no Active replica on a node qnb can reach/);
    for (const peer of cluster.peerIds.slice(1)) assert.match(out, new RegExp(`peer ${peer} \\(p2p http://`));
    assert.doesNotMatch(out, new RegExp(`peer ${cluster.peerIds[0]} `));
    assert.match(out, /QDRANT_NODE_URLS=/);
    assert.deepEqual(await w.listed(), []);
    assert.deepEqual(await w.files(), []);
  });

  test('a node list missing a node is refused, naming that peer only', async (t) => {
    const w = await world(t);
    const run = await w.qnb(['backup-qdrant', '--collection', 'docs'], {
      QDRANT_NODE_URLS: cluster.urls.slice(0, 2).join(','),
    });
    assert.notEqual(run.code, 0, run.stdout);
    const out = run.stdout + run.stderr;
    assert.match(out, new RegExp(`no REST URL for peer ${cluster.peerIds[2]} \\(p2p `));
    assert.doesNotMatch(out, new RegExp(`peer ${cluster.peerIds[1]} \\(`));
    assert.deepEqual(await w.listed(), []);
  });

  test('a key that may not read GET /cluster (403): a collection spread over peers is still refused', async (t) => {
    const w = await world(t);
    cluster.nodes[0]!.inject({
      op: 'cluster',
      times: 1,
      fault: { kind: 'status', status: 403, message: 'no' },
    });
    const run = await w.qnb(['backup-qdrant', '--collection', 'docs'], { QDRANT_NODE_URLS: allNodes() });
    cluster.nodes[0]!.clearFaults();
    assert.notEqual(run.code, 0);
    assert.match(
      run.stdout + run.stderr,
      /collection "docs" is spread over several peers .* may not read GET \/cluster/,
    );
    assert.deepEqual(await w.listed(), []);
  });

  test('--full on a cluster is refused with the reason', async (t) => {
    const w = await world(t);
    const run = await w.qnb(['--qdrant-node', cluster.urls[1]!, 'backup-qdrant', '--full'], {
      QDRANT_NODE_URLS: allNodes(),
    });
    assert.notEqual(run.code, 0);
    assert.match(
      run.stdout + run.stderr,
      /distributed mode \(3 peers\): full-storage snapshots are supported on single nodes only/,
    );
    assert.deepEqual(await w.listed(), []);
  });
});

/** Every point of `name` as the cluster stores it (ids, vectors, payloads), in id order. */
const pointsOf = (name: string) => cluster.nodes[0]!.points(name);

async function drop(name: string): Promise<void> {
  const res = await fetch(`${cluster.urls[0]}/collections/${name}`, { method: 'DELETE' });
  assert.equal(res.status, 200);
}

type Manifest = {
  artifacts: {
    file: string;
    details: {
      cluster: {
        shards: { points: number; sha256: string; peerId: number }[];
        shardNumber: number;
        replicationFactor: number;
      };
    };
  }[];
};

async function manifestOf(backupDir: string): Promise<Manifest> {
  const { readFile } = await import('node:fs/promises');
  const sets = await readdir(join(backupDir, 'sets'));
  return JSON.parse(await readFile(join(backupDir, 'sets', sets.sort().at(-1)!), 'utf8')) as Manifest;
}

describe('cluster backup and restore', () => {
  test('6 shards × rf 1: one shard snapshot per shard, listed as one entry; drop → restore identical', async (t) => {
    const w = await world(t);
    const before = pointsOf('docs');
    const mark = cluster.nodes.map((n) => n.requests.length);
    const run = await w.qnb(['backup-qdrant', '--collection', 'docs'], { QDRANT_NODE_URLS: allNodes() });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const created = cluster.nodes.flatMap((n, i) =>
      n.requests.slice(mark[i]).filter((r) => r.method === 'POST' && r.path.includes('/snapshots')),
    );
    assert.equal(created.length, 6);
    assert.ok(created.every((r) => /^\/collections\/docs\/shards\/\d\/snapshots$/.test(r.path)));
    const listed = await w.listed();
    assert.equal(listed.length, 1);
    assert.ok(listed[0]!.valid);
    const text = await w.qnb(['list']);
    assert.match(text.stdout, /300 points - 6 shards \(cluster\)/);
    const art = (await manifestOf(w.backupDir)).artifacts[0]!;
    assert.equal(art.details.cluster.shards.length, 6);
    assert.equal(art.details.cluster.shardNumber, 6);
    assert.equal(
      art.details.cluster.shards.reduce((a, s) => a + s.points, 0),
      300,
    );
    assert.equal(new Set(art.details.cluster.shards.map((s) => s.peerId)).size, 3);
    for (const n of cluster.nodes) {
      const left = await fetch(`${n.url}/collections/docs/cluster`).then((r) => r.json());
      for (const s of (left as { result: { local_shards: { shard_id: number }[] } }).result.local_shards) {
        const list = await fetch(`${n.url}/collections/docs/shards/${s.shard_id}/snapshots`).then((r) =>
          r.json(),
        );
        assert.deepEqual((list as { result: unknown[] }).result, [], 'shard snapshots deleted on the server');
      }
    }
    const status = JSON.parse((await w.qnb(['status', '--json'])).stdout) as {
      targets: { name: string; lastGood?: { shards?: unknown } }[];
    };
    assert.deepEqual(status.targets.find((x) => x.name === 'docs')?.lastGood?.shards, {
      inBackup: 6,
      total: 6,
    });
    const deep = await w.qnb(['verify', '--deep'], { QDRANT_NODE_URLS: allNodes() });
    assert.equal(deep.code, 0, deep.stdout + deep.stderr);
    assert.deepEqual(
      cluster.nodes[0]!.collections().filter((c) => c.startsWith('qnb-verify')),
      [],
      'scratch collection dropped',
    );
    const marks = cluster.nodes.map((n) => n.requests.length);
    const dry = await w.qnb(['restore-qdrant', '--latest', '--collection', 'docs', '--dry-run'], {
      QDRANT_NODE_URLS: allNodes(),
    });
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /exists: safety backup first/);
    assert.match(dry.stdout, /create "docs" with shard_number 6, replication_factor 1/);
    assert.equal(dry.stdout.match(/upload shard \d: \d+ bytes to a node holding it/g)?.length, 6);
    const changed = cluster.nodes.flatMap((n, i) =>
      n.requests.slice(marks[i]).filter((r) => r.method !== 'GET'),
    );
    assert.deepEqual(changed, [], '--dry-run changed nothing');
    await drop('docs');
    const restore = await w.qnb(['restore-qdrant', '--latest', '--collection', 'docs'], {
      QDRANT_NODE_URLS: allNodes(),
    });
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    assert.deepEqual(pointsOf('docs'), before);
    const all = await w.qnb(['backup-all', '--skip-neo4j'], { QDRANT_NODE_URLS: allNodes() });
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.equal((await w.listed()).filter((b) => b.valid).length, 3, 'docs twice and rep, each one entry');
  });

  test('3 shards × rf 2 with one node down: complete backup from the remaining replicas; restore into a single node', async (t) => {
    const w = await world(t);
    const before = pointsOf('rep');
    await cluster.down(2);
    let run: QnbRun;
    try {
      run = await w.qnb(['backup-qdrant', '--collection', 'rep'], { QDRANT_NODE_URLS: allNodes() });
    } finally {
      await cluster.up(2);
    }
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const art = (await manifestOf(w.backupDir)).artifacts[0]!;
    assert.equal(art.details.cluster.shards.length, 3);
    assert.ok(!art.details.cluster.shards.some((s) => s.peerId === cluster.peerIds[2]));
    const { startQdrantTestServer } = await import('../servers/qdrant/index.js');
    const single = await startQdrantTestServer();
    t.after(() => single.stop());
    const restore = await w.qnb(['restore-qdrant', '--latest', '--collection', 'rep'], {
      QDRANT_URL: single.url,
    });
    assert.equal(restore.code, 0, restore.stdout + restore.stderr);
    assert.deepEqual(single.points('rep'), before);
  });

  test('a replica that is not Active (Partial, Dead) is never read, even on a node that answers', async (t) => {
    const w = await world(t);
    const c = cluster.state.store.get('rep');
    const shard0 = cluster.state.placement(c).find((s) => s.shardId === 0)!;
    const first = shard0.replicas[0]!;
    const second = shard0.replicas[1]!;
    const nodeOf = (peerId: number) => cluster.nodes[cluster.peerIds.indexOf(peerId)]!;
    const shard0Snapshots = (peerId: number, from: number) =>
      nodeOf(peerId)
        .requests.slice(from)
        .filter((r) => r.method === 'POST' && r.path === '/collections/rep/shards/0/snapshots').length;
    try {
      cluster.state.setReplicaState(c, 0, first.peerId, 'Partial');
      const from = nodeOf(first.peerId).requests.length;
      const fromOther = nodeOf(second.peerId).requests.length;
      const run = await w.qnb(['backup-qdrant', '--collection', 'rep'], { QDRANT_NODE_URLS: allNodes() });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(shard0Snapshots(first.peerId, from), 0, 'the Partial replica was not read');
      assert.equal(shard0Snapshots(second.peerId, fromOther), 1, 'the Active one was');
      const art = (await manifestOf(w.backupDir)).artifacts[0]!;
      assert.equal(
        art.details.cluster.shards.find((s) => (s as { shardId?: number }).shardId === 0)?.peerId,
        second.peerId,
      );

      // no Active replica of shard 0 left: refused before anything is written
      cluster.state.setReplicaState(c, 0, second.peerId, 'Dead');
      const before = (await w.listed()).length;
      const none = await w.qnb(['backup-qdrant', '--collection', 'rep'], { QDRANT_NODE_URLS: allNodes() });
      assert.notEqual(none.code, 0);
      assert.match(none.stdout + none.stderr, /collection "rep": shard 0 has no Active replica/);
      assert.equal((await w.listed()).length, before, 'nothing new listed');
    } finally {
      cluster.state.setReplicaState(c, 0, first.peerId, 'Active');
      cluster.state.setReplicaState(c, 0, second.peerId, 'Active');
    }
  });

  test('a replica that stops being Active during its shard snapshot is not kept: the other Active one is read', async (t) => {
    const w = await world(t);
    const c = cluster.state.store.get('rep');
    const shard0 = cluster.state.placement(c).find((s) => s.shardId === 0)!;
    // the planner reads shard 0 (the first, every node unloaded) from its lowest peer id
    const [picked, other] = shard0.replicas.map((r) => r.peerId).sort((a, b) => a - b) as [number, number];
    const nodeOf = (peerId: number) => cluster.nodes[cluster.peerIds.indexOf(peerId)]!;
    const snapshotsOf = (peerId: number) =>
      nodeOf(peerId).requests.filter(
        (r) => r.method === 'POST' && r.path === '/collections/rep/shards/0/snapshots',
      );
    const from = snapshotsOf(picked).length;
    nodeOf(picked).inject({
      op: 'create-snapshot',
      collection: 'rep',
      fault: { kind: 'slow', delayMs: 1500 },
    });
    try {
      const running = w.qnb(['backup-qdrant', '--collection', 'rep'], { QDRANT_NODE_URLS: allNodes() });
      // while the picked replica's snapshot is being made, it falls behind (Dead)
      const deadline = Date.now() + 60_000;
      while (snapshotsOf(picked).length === from && Date.now() < deadline) await sleep(20);
      assert.ok(snapshotsOf(picked).length > from, 'shard 0 was asked of the picked replica first');
      cluster.state.setReplicaState(c, 0, picked, 'Dead');
      const run = await running;
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.match(
        run.stdout + run.stderr,
        new RegExp(`shard 0 of "rep" on peer ${picked} was Dead after its snapshot`),
      );
      const art = (await manifestOf(w.backupDir)).artifacts[0]!;
      assert.equal(
        art.details.cluster.shards.find((s) => (s as { shardId?: number }).shardId === 0)?.peerId,
        other,
        'shard 0 came from the replica that stayed Active',
      );
    } finally {
      nodeOf(picked).clearFaults();
      cluster.state.setReplicaState(c, 0, picked, 'Active');
    }
  });

  test('rf 1 with one node down: clear failure, nothing listed valid', async (t) => {
    const w = await world(t);
    await cluster.down(1);
    let run: QnbRun;
    try {
      run = await w.qnb(['backup-qdrant', '--collection', 'docs'], { QDRANT_NODE_URLS: allNodes() });
    } finally {
      await cluster.up(1);
    }
    assert.notEqual(run.code, 0);
    const out = run.stdout + run.stderr;
    assert.match(out, /collection "docs": shards? [\d, ]+ ha(ve|s) no Active replica/);
    assert.match(out, new RegExp(`${cluster.urls[1]!.replace(/[.]/g, '\\.')} did not answer`));
    assert.deepEqual(await w.listed(), []);
  });
});

test('doctor shows the cluster, each node and where each shard would be read from', async (t) => {
  const w = await world(t);
  const partial = await w.qnb(['doctor', '--skip-neo4j'], { QDRANT_NODE_URLS: cluster.urls[1] });
  assert.notEqual(partial.code, 0);
  assert.match(partial.stdout, /distributed mode, 3 peers/);
  assert.match(partial.stdout, new RegExp(`node peer ${cluster.peerIds[2]}.*no reachable REST URL`));
  assert.match(partial.stdout, /shards of "docs".*no Active replica/);
  const good = await w.qnb(['doctor', '--skip-neo4j'], { QDRANT_NODE_URLS: allNodes() });
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /shards of "docs".*0←peer \d+, 1←peer \d+/);
});

test('custom sharding on a cluster: shards matched by key on restore; identical points', async (t) => {
  const w = await world(t);
  const url = cluster.urls[0]!;
  await put(url, '/collections/tenants', {
    vectors: { size: 3, distance: 'Dot' },
    sharding_method: 'custom',
    replication_factor: 1,
  });
  for (const key of ['eu', 'us', 'ap']) await put(url, '/collections/tenants/shards', { shard_key: key });
  const points = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, vector: [i, 1, 0], payload: { i } }));
  for (const key of ['eu', 'us', 'ap']) {
    const mine = points.filter((p) => ['eu', 'us', 'ap'][p.id % 3] === key);
    await put(url, '/collections/tenants/points?wait=true', { points: mine, shard_key: key });
  }
  const before = pointsOf('tenants');
  const run = await w.qnb(['backup-qdrant', '--collection', 'tenants'], { QDRANT_NODE_URLS: allNodes() });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  await drop('tenants');
  const restore = await w.qnb(['restore-qdrant', '--latest', '--collection', 'tenants'], {
    QDRANT_NODE_URLS: allNodes(),
  });
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.deepEqual(pointsOf('tenants'), before);
  // restore SET over the existing collection: cluster-aware safety backup first, then identical
  const { id } = (await manifestOf(w.backupDir)) as unknown as { id: string };
  const set = await w.qnb(['restore', id, '--yes'], { QDRANT_NODE_URLS: allNodes() });
  assert.equal(set.code, 0, set.stdout + set.stderr);
  assert.match(set.stdout, /Safety backup of the previous state: set /);
  assert.deepEqual(pointsOf('tenants'), before);
  const safety = (await w.listed()).filter((b) => b.name === 'tenants' && b.file.endsWith('.shards.tar'));
  assert.equal(safety.length, 2, 'the backup and the safety backup of restore SET, each one cluster entry');
});

test("a single node's backup restored into a cluster (same shard count): uploaded to every node, identical", async (t) => {
  const w = await world(t);
  const { startQdrantTestServer } = await import('../servers/qdrant/index.js');
  const single = await startQdrantTestServer();
  t.after(() => single.stop());
  await put(single.url, '/collections/solo', { vectors: { size: 3, distance: 'Cosine' }, shard_number: 3 });
  const points = Array.from({ length: 90 }, (_, i) => ({ id: i + 1, vector: [i + 1, 2, 3], payload: { i } }));
  await put(single.url, '/collections/solo/points?wait=true', { points });
  const before = single.points('solo');
  const backup = await w.qnb(['backup-qdrant', '--collection', 'solo'], { QDRANT_URL: single.url });
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const refused = await w.qnb(['restore-qdrant', '--latest', '--collection', 'solo']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stdout + refused.stderr, /needs every node .*no REST URL for peer/);
  assert.ok(!cluster.nodes[0]!.collections().includes('solo'), 'nothing restored');
  const restore = await w.qnb(['restore-qdrant', '--latest', '--collection', 'solo'], {
    QDRANT_NODE_URLS: allNodes(),
  });
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
  assert.deepEqual(pointsOf('solo'), before);
});
