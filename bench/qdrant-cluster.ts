/**
 * Cluster backup time: `qnb backup-qdrant` against a 3-node test cluster (6 shards, each shard
 * snapshot padded to SIZE_MB) beside the sum of one `curl` per shard (create with wait=true, then
 * download to a file), run one after the other like a careful script would.
 *
 *   node --import tsx bench/qdrant-cluster.ts [SIZE_MB=16] [REPS=3]
 *
 * Prints a markdown table row per contender (median of REPS).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startQdrantTestCluster } from '../test/servers/qdrant/cluster.js';

const run = promisify(execFile);
const sizeMb = Number(process.argv[2] ?? 16);
const reps = Number(process.argv[3] ?? 3);
const QNB = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const cluster = await startQdrantTestCluster({ nodes: 3 });
const work = await mkdtemp(join(tmpdir(), 'qnb-bench-cluster-'));
const put = (path: string, body: unknown) =>
  fetch(`${cluster.urls[0]}${path}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
await put('/collections/bench', { vectors: { size: 4, distance: 'Dot' }, shard_number: 6 });
const points = Array.from({ length: 600 }, (_, i) => ({ id: i + 1, vector: [i, 1, 2, 3], payload: { i } }));
await put('/collections/bench/points?wait=true', { points });
await Promise.all(cluster.nodes.map((n) => n.setSnapshotPadding('bench', sizeMb * 1024 * 1024)));

type Info = { result: { local_shards: { shard_id: number }[] } };
async function curlPerShard(dir: string): Promise<number> {
  const t0 = performance.now();
  for (const [i, url] of cluster.urls.entries()) {
    const info = (await (await fetch(`${url}/collections/bench/cluster`)).json()) as Info;
    for (const s of info.result.local_shards) {
      const base = `${url}/collections/bench/shards/${s.shard_id}/snapshots`;
      const { stdout } = await run('curl', ['-sf', '-X', 'POST', `${base}?wait=true`]);
      const name = (JSON.parse(stdout) as { result: { name: string } }).result.name;
      await run('curl', ['-sf', '-o', join(dir, `${i}-${s.shard_id}.snapshot`), `${base}/${name}`]);
      await run('curl', ['-sf', '-X', 'DELETE', `${base}/${name}`]);
    }
  }
  return (performance.now() - t0) / 1000;
}

async function qnbBackup(dir: string): Promise<number> {
  const t0 = performance.now();
  await run(process.execPath, [QNB, 'backup-qdrant', '--collection', 'bench'], {
    cwd: dir,
    env: { PATH: process.env.PATH, QDRANT_URL: cluster.urls[0], QDRANT_NODE_URLS: cluster.urls.join(',') },
  });
  return (performance.now() - t0) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const times = { curl: [] as number[], qnb: [] as number[] };
for (let r = 0; r < reps; r++) {
  const d1 = await mkdtemp(join(work, 'curl-'));
  times.curl.push(await curlPerShard(d1));
  const d2 = await mkdtemp(join(work, 'qnb-'));
  times.qnb.push(await qnbBackup(d2));
  await rm(d1, { recursive: true });
  await rm(d2, { recursive: true });
}
const total = 6 * sizeMb;
console.log(`| contender (6 shards × ~${sizeMb} MB over 3 nodes, ${total} MB) | median s | runs (s) |`);
console.log('|---|---|---|');
const row = (name: string, xs: number[]) =>
  console.log(`| ${name} | ${median(xs).toFixed(2)} | ${xs.map((x) => x.toFixed(2)).join(', ')} |`);
row('sum of one `curl` per shard (create, download, delete; one after the other)', times.curl);
row('`qnb backup-qdrant` (2 shard downloads at once, sha256 + fsync, bundled into one file)', times.qnb);
await cluster.stop();
await rm(work, { recursive: true, force: true });
