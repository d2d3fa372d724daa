/**
 * Semantic probes (docs/consistency.md): each collection's backup records sampled points with
 * their exact top-10 neighbours; `verify --deep` re-runs them on the scratch restore. A healthy
 * index passes (recall@10 reported); a broken one (the test server's degraded-index fault)
 * fails the drill with exit 4, naming the probe.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createQnbWorld } from '../helpers/qnb-world.js';

test('probes recorded at backup; verify --deep re-runs them; a broken index exits 4', async (t) => {
  const w = await createQnbWorld(t, { papers: 40, chunks: 30 });
  const backup = await w.qnb(['backup-qdrant', '--json']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const set = JSON.parse(backup.stdout) as { setId: string };
  const manifest = JSON.parse(await readFile(join(w.backupDir, 'sets', `${set.setId}.json`), 'utf8')) as {
    artifacts: { name: string; details: { probes: { samples: { id: number; top: number[] }[] } } }[];
  };
  const papers = manifest.artifacts.find((a) => a.name === 'papers')!;
  assert.equal(papers.details.probes.samples.length, 20);
  assert.equal(papers.details.probes.samples[0]!.top.length, 10);

  const healthy = await w.qnb(['verify', '--deep', set.setId]);
  assert.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
  assert.match(healthy.stderr + healthy.stdout, /HNSW recall@10 1\b/);

  w.server.inject({ op: 'query', fault: { kind: 'degraded-index' }, times: Number.POSITIVE_INFINITY });
  const broken = await w.qnb(['verify', '--deep', set.setId]);
  assert.equal(broken.code, 4, broken.stdout + broken.stderr);
  assert.match(broken.stdout, /probe "HNSW recall@10" is 0\.\d+, below drill\.recallThreshold 0\.9/);
});
