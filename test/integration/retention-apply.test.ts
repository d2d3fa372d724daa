/**
 * Guarantee 4: retention runs only after a new backup verified; it never deletes a target's
 * newest valid backup, files qnb did not write, or anything outside the backups folder.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { createBackupManager } from '../../src/core/manager.js';
import { clientFor, seedCollections } from '../helpers/qdrant-data.js';
import { tempDir } from '../helpers/tmp.js';
import { startQdrantTestServer } from '../servers/qdrant/index.js';

async function world(t: Parameters<typeof tempDir>[0]) {
  const server = await startQdrantTestServer();
  t.after(() => server.stop());
  const cwd = await tempDir(t);
  const client = clientFor(server.url);
  await seedCollections(client, { papers: 5, chunks: 5 });
  let clock = Date.parse('2026-11-01T10:00:00Z');
  const now = () => new Date(clock);
  const { config } = loadConfig({ env: { QDRANT_URL: server.url, QNB_KEEP_LAST: '2' }, cwd });
  const manager = createBackupManager(config, { now });
  t.after(() => manager.close());
  return { server, manager, config, cwd, tick: (h: number) => (clock += h * 3.6e6) };
}

test('backup-all keeps the last N per collection and deletes only what it wrote', async (t) => {
  const { manager, config, cwd, tick } = await world(t);
  const outside = join(cwd, 'precious.snapshot');
  await writeFile(outside, 'not in the backups folder');
  for (let i = 0; i < 4; i++) {
    const r = await manager.backupAll({ skipNeo4j: true, keepLast: 2 });
    assert.equal(r.status, 'ok');
    tick(1);
    if (i === 0) {
      await writeFile(join(config.backupDir, 'qdrant', 'my-own.snapshot'), 'user file');
      await symlink(outside, join(config.backupDir, 'qdrant', 'link-out.snapshot'));
    }
  }
  const scan = await manager.list();
  for (const name of ['papers', 'chunks'])
    assert.equal(scan.artifacts.filter((a) => a.artifact.name === name).length, 2, name);
  assert.ok(existsSync(join(config.backupDir, 'qdrant', 'my-own.snapshot')), 'unknown file untouched');
  assert.ok(existsSync(outside), 'nothing outside the backups folder');
  assert.deepEqual(scan.unknownFiles, ['qdrant/link-out.snapshot', 'qdrant/my-own.snapshot']);
  assert.equal((await readdir(join(config.backupDir, 'qdrant'))).length, 6);
});

test('a partial set never triggers retention', async (t) => {
  const { server, manager, tick } = await world(t);
  for (let i = 0; i < 3; i++) {
    await manager.backupAll({ skipNeo4j: true, cleanupOld: false });
    tick(1);
  }
  server.inject({
    op: 'create-snapshot',
    collection: 'papers',
    fault: { kind: 'status', status: 500 },
    times: 1,
  });
  const r = await manager.backupAll({ skipNeo4j: true, keepLast: 1 });
  assert.equal(r.status, 'partial');
  assert.deepEqual(r.retention, { skipped: 'the backup set is partial' });
  const scan = await manager.list();
  assert.equal(scan.artifacts.filter((a) => a.artifact.name === 'chunks').length, 4, 'nothing pruned');
});

test('prune keeps the newest valid backup even when newer ones are broken', async (t) => {
  const { manager, config, tick } = await world(t);
  for (let i = 0; i < 3; i++) {
    await manager.backup('qdrant', { collections: ['papers'] });
    tick(24);
  }
  const scan = await manager.list();
  const newest = scan.artifacts[0]!;
  const secondNewest = scan.artifacts[1]!;
  // the newest file gets truncated: it is no longer valid, so the second newest must survive
  await writeFile(newest.path, 'x');
  const dry = await manager.prune({ policy: { keepLast: 1 }, dryRun: true });
  assert.equal(dry.removed.length, 0);
  const r = await manager.prune({ policy: { keepLast: 1 } });
  assert.ok(!r.removed.includes(secondNewest.artifact.file), 'newest valid kept');
  assert.ok(!r.removed.includes(newest.artifact.file), 'invalid file not touched by retention');
  assert.ok(existsSync(secondNewest.path));
  assert.equal(r.removed.length, 1);
  const after = await manager.list();
  assert.equal(after.artifacts.length, 2);
  assert.ok(!existsSync(join(config.backupDir, r.removed[0]!)));
});
