/**
 * Distributed Qdrant (3-node test cluster): qnb never writes a partial backup. Detection happens
 * before anything is written; shard snapshots per shard; restores into a cluster or a single node.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
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
