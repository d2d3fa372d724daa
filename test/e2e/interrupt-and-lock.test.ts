/**
 * Guarantee 2: killing qnb at any moment never leaves a file that looks valid, and the next run
 * cleans the leftovers. Guarantee 5: one run at a time.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQnbWorld, type QnbWorld } from '../helpers/qnb-world.js';

async function tempFiles(world: QnbWorld): Promise<string[]> {
  const names = await readdir(join(world.backupDir, 'qdrant')).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith('.qnb-tmp-'));
}

/** Starts a backup whose download is slow and waits until the temp file exists. */
async function startSlowBackup(world: QnbWorld) {
  world.server.setSnapshotPadding('papers', 8 * 1024 * 1024);
  world.server.inject({
    op: 'download-snapshot',
    fault: { kind: 'slow', delayMs: 100 },
    times: Number.POSITIVE_INFINITY,
  });
  const proc = world.start(['backup-qdrant', '--collection', 'papers']);
  const deadline = Date.now() + 30_000;
  while ((await tempFiles(world)).length === 0) {
    if (Date.now() > deadline) throw new Error('download never started');
    await sleep(50);
  }
  return proc;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`${signal} during a download leaves nothing that looks valid`, async (t) => {
    const world = await createQnbWorld(t);
    const proc = await startSlowBackup(world);
    proc.child.kill(signal);
    const run = await proc.done;
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /stopping safely/);
    world.server.clearFaults();
    assert.deepEqual(await tempFiles(world), [], 'temp file removed on the way out');
    const listed = await world.listed();
    assert.equal(listed.filter((b) => b.valid).length, 0);
    const sets = (await readdir(join(world.backupDir, 'sets'))).length;
    assert.equal(sets, 1);
    // the server-side snapshot was cleaned up too
    assert.deepEqual(await world.client.listSnapshots('papers'), []);
  });
}

test('SIGKILL during a download: nothing valid; the next run removes the leftover and the lock', async (t) => {
  const world = await createQnbWorld(t);
  const proc = await startSlowBackup(world);
  proc.child.kill('SIGKILL');
  await proc.done;
  world.server.clearFaults();
  assert.equal((await tempFiles(world)).length, 1, 'the killed run left its temp file');
  assert.equal((await world.listed()).filter((b) => b.valid).length, 0, 'a partial download is never valid');
  const next = await world.qnb(['backup-qdrant', '--collection', 'chunks']);
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /removed leftover of an interrupted run/);
  assert.match(next.stderr, /was interrupted/);
  assert.deepEqual(await tempFiles(world), []);
  const listed = await world.listed();
  assert.deepEqual(
    listed.filter((b) => b.valid).map((b) => b.name),
    ['chunks'],
  );
});

test('a second run while one holds the lock exits with the locked code and names the holder', async (t) => {
  const world = await createQnbWorld(t);
  const proc = await startSlowBackup(world);
  const second = await world.qnb(['backup-qdrant', '--collection', 'chunks']);
  assert.equal(second.code, 5, second.stderr);
  assert.match(second.stderr, new RegExp(`locked by backup-qdrant \\(PID ${proc.child.pid} on `));
  const verify = await world.qnb(['verify']);
  assert.equal(verify.code, 5);
  world.server.clearFaults();
  proc.child.kill('SIGINT');
  await proc.done;
  const third = await world.qnb(['backup-qdrant', '--collection', 'chunks']);
  assert.equal(third.code, 0, third.stderr);
});
