/**
 * verify --deep for Qdrant: each snapshot is restored into a scratch collection, compared with
 * the manifest (exact count, sampled points), and the scratch collection is always deleted. A
 * drill that cannot reach Qdrant says so and condemns no backup.
 */
import assert from 'node:assert/strict';
import { open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createBackupManager } from '../../src/core/manager.js';
import { computeStatus } from '../../src/core/status.js';
import { clientFor, dumpCollection, seedCollections } from '../helpers/qdrant-data.js';
import { tempDir } from '../helpers/tmp.js';
import { startQdrantTestServer } from '../servers/qdrant/index.js';

test('restore drill passes, records a deep verification, leaves no scratch collection and the live data alone', async (t) => {
  const server = await startQdrantTestServer();
  t.after(() => server.stop());
  const cwd = await tempDir(t);
  const client = clientFor(server.url);
  await seedCollections(client);
  const { config } = loadConfig({ env: { QDRANT_URL: server.url }, cwd });
  const manager = createBackupManager(config);
  t.after(() => manager.close());
  const backup = await manager.backup('qdrant');
  const live = await dumpCollection(client, 'papers');

  const ok = await manager.verify(undefined, { deep: true });
  assert.equal(ok.ok, true, JSON.stringify(ok.items));
  assert.deepEqual(
    ok.items.map((i) => i.deep),
    [true, true],
  );
  assert.deepEqual(server.collections().sort(), ['chunks', 'papers'], 'scratch collections deleted');
  assert.deepEqual(await dumpCollection(client, 'papers'), live);
  const scan = await manager.list();
  for (const a of scan.artifacts) assert.equal(a.artifact.verification?.deep, true);
  const status = computeStatus(scan, { now: new Date(), maxAgeMs: 3.6e6 });
  for (const t of status.targets)
    assert.deepEqual([t.lastVerified?.deep, t.lastVerified?.ok], [true, true], t.name);

  // the manifest claims one more point than the snapshot holds: the drill must say so
  const setFile = join(config.backupDir, 'sets', `${backup.setId}.json`);
  const set = JSON.parse(await readFile(setFile, 'utf8'));
  const papers = set.artifacts.find((a: { name: string }) => a.name === 'papers');
  papers.counts.points += 1;
  await writeFile(setFile, JSON.stringify(set));
  const bad = await manager.verify(backup.setId, { deep: true });
  assert.equal(bad.ok, false);
  const item = bad.items.find((i) => i.name === 'papers')!;
  assert.match(item.detail ?? '', /restored 40 points, the manifest recorded 41/);
  assert.deepEqual(
    server.collections().sort(),
    ['chunks', 'papers'],
    'scratch deleted after a failed drill too',
  );

  // a sampled point that differs
  papers.counts.points -= 1;
  papers.sample[0].hash = '0'.repeat(64);
  await writeFile(setFile, JSON.stringify(set));
  const sampled = await manager.verify(papers.file, { deep: true });
  assert.equal(sampled.ok, false);
  assert.match(sampled.items[0]!.detail ?? '', /sampled points differ after restore: ids/);
});

test('a drill that cannot reach Qdrant fails verify with that error, marks no good backup failed, and keeps what it found', async (t) => {
  const server = await startQdrantTestServer();
  t.after(() => server.stop());
  const cwd = await tempDir(t);
  await seedCollections(clientFor(server.url));
  const { config } = loadConfig({ env: { QDRANT_URL: server.url }, cwd });
  const manager = createBackupManager(config);
  t.after(() => manager.close());
  const backup = await manager.backup('qdrant');
  assert.equal(backup.status, 'ok');
  // the first file verify takes is damaged (size kept): that finding is recorded all the same
  const [first, second] = (await manager.list()).artifacts;
  const fh = await open(first!.path, 'r+');
  await fh.write(Buffer.from([0x5a]), 0, 1, 1000);
  await fh.close();
  await server.stop();
  await assert.rejects(
    manager.verify(undefined, { deep: true }),
    (e: { code?: string }) => e.code === 'E_CONNECT',
  );
  const scan = await manager.list();
  const now = (file: string) => scan.artifacts.find((a) => a.artifact.file === file)!;
  assert.equal(now(first!.artifact.file).valid, false, 'the damaged file is recorded as failed');
  assert.match(now(first!.artifact.file).artifact.verification?.detail ?? '', /sha256 differs/);
  assert.equal(now(second!.artifact.file).valid, true, now(second!.artifact.file).problem);
  assert.equal(
    now(second!.artifact.file).artifact.verification,
    undefined,
    'the failed drill records nothing',
  );
});
