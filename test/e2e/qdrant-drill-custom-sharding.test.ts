/**
 * `verify --deep` of a custom-sharded collection on a single node: restored into a scratch
 * collection it would come back empty (Qdrant #10135), so qnb cannot drill it. The drill is
 * skipped with that reason before anything is uploaded; the backup stays valid (list, status,
 * restore --latest) and verify exits 0 as for other skipped drills.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createQnbWorld } from '../helpers/qnb-world.js';
import { seedCustomSharded } from '../servers/qdrant/testing.js';

test('verify --deep skips the drill of a single-node custom-sharded backup and keeps it valid', async (t) => {
  const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
  await seedCustomSharded(world.server, 'tenants', [['eu', [1, 2, 3]]]);
  const backup = await world.qnb(['backup-qdrant', '--collection', 'tenants']);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);

  const verify = await world.qnb(['verify', '--deep']);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(
    verify.stdout,
    /✅ qdrant\/tenants-backup-\S+\.snapshot \(sha256; not drilled: .*"tenants" uses custom sharding/,
  );
  assert.ok(
    !world.server.requests.some((r) => r.method !== 'GET' && r.path.includes('qnb-verify-')),
    'nothing uploaded or created for the drill',
  );
  const json = await world.qnb(['verify', '--deep', '--json']);
  assert.equal(json.code, 0, json.stdout + json.stderr);
  const items = (
    JSON.parse(json.stdout) as { items: { name: string; ok: boolean; deep: boolean; note?: string }[] }
  ).items;
  const item = items.find((i) => i.name === 'tenants')!;
  assert.deepEqual([item.ok, item.deep], [true, false]);
  assert.match(item.note ?? '', /^not drilled: /);

  const listed = (await world.listed()).find((b) => b.name === 'tenants');
  assert.equal(listed?.valid, true, 'the backup stays valid');
  const restore = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tenants', '--yes']);
  assert.equal(restore.code, 0, restore.stdout + restore.stderr);
});
