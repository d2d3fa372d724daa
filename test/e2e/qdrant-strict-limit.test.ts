/**
 * Strict mode's `max_query_limit` with exact search allowed: every limit qnb sends (the sample
 * and probe scrolls, the probes' exact and approximate queries, the counts) stays within it, so
 * the backup, the safety backup of a restore over the collection and the restore's probe check
 * all pass; the probes are recorded with the smaller top-k and re-run with that same k.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createQnbWorld } from '../helpers/qnb-world.js';
import { call } from '../servers/qdrant/testing.js';

type Json = Record<string, unknown>;

test('max_query_limit 5 with exact search allowed: backup, safety backup and restore pass; probes use top-5', async (t) => {
  const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
  const strict = { enabled: true, max_query_limit: 5 };
  const made = await call(world.server, 'PUT', '/collections/capped', {
    vectors: { size: 2, distance: 'Cosine' },
    strict_mode_config: strict,
  });
  assert.equal(made.status, 200, made.text);
  const points = Array.from({ length: 12 }, (_, i) => ({
    id: i + 1,
    vector: [i + 1, 12 - i],
    payload: { i },
  }));
  const up = await call(world.server, 'PUT', '/collections/capped/points?wait=true', { points });
  assert.equal(up.status, 200, up.text);

  const backup = await world.qnb(['backup-qdrant', '--collection', 'capped', '--json']);
  assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
  const { setId } = JSON.parse(backup.stdout) as { setId: string };
  const set = JSON.parse(await readFile(join(world.backupDir, 'sets', `${setId}.json`), 'utf8')) as {
    artifacts: { details: { probes: { top?: number; samples: { top: unknown[] }[] } } }[];
  };
  const probes = set.artifacts[0]!.details.probes;
  assert.equal(probes.top, 5, 'the smaller k is recorded');
  assert.equal(probes.samples.length, 5, 'at most max_query_limit probes');
  for (const s of probes.samples) assert.equal(s.top.length, 5);

  // over the existing collection: a safety backup of it first, then the restore and its probes
  const restore = await world.qnb(['restore-qdrant', '--latest', '--collection', 'capped', '--yes']);
  assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
  assert.match(restore.stdout, /Probes: 5 exact top-5 identical ✔, HNSW recall@5 1\b/);
  const restored = await call(world.server, 'GET', '/collections/capped');
  const config = (restored.json.result as Json).config as Json;
  assert.equal((config.strict_mode_config as Json).max_query_limit, 5);
  const refused = world.server.requests.filter((r) => r.status === 400);
  assert.deepEqual(refused, [], 'no request refused by strict mode');
});
