/**
 * `qnb watch` through the real CLI: a burst of writes gives one backup, a write during the
 * cooldown exactly one more after it, a file replaced by rename is seen, SIGINT stops cleanly.
 */
import assert from 'node:assert/strict';
import { appendFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQnbWorld, errorLines, type QnbWorld } from '../helpers/qnb-world.js';
import { follow, readSets } from './automation-helpers.js';

const okSets = async (world: QnbWorld) => (await readSets(world.backupDir)).filter((s) => s.status === 'ok');

async function startWatch(t: Parameters<typeof follow>[0], world: QnbWorld, file: string) {
  const proc = follow(
    t,
    world.start(['watch', file, '--debounce', '300ms', '--cooldown', '2s', '--skip-neo4j']),
  );
  await proc.waitFor(/watching .*zotero\.sqlite — debounce 300 ms, cooldown 2\.0 s/);
  return proc;
}

test('watch: 20 writes in a burst → exactly 1 backup; a write in the cooldown → exactly 1 more after it', async (t) => {
  const world = await createQnbWorld(t);
  const file = join(world.cwd, 'zotero.sqlite');
  await writeFile(file, 'v0');
  const proc = await startWatch(t, world, file);
  for (let i = 0; i < 20; i++) {
    await appendFile(file, `write ${i}\n`);
    await sleep(10);
  }
  await proc.waitFor(/backup 1: ok — set /);
  const firstDone = Date.now();
  await sleep(200);
  const written = Date.now();
  await appendFile(file, 'during the cooldown\n');
  await proc.waitFor(/change noted; backup at .* after the cooldown/);
  await proc.waitFor(/backup 2: ok — set /, { timeoutMs: 20_000 });
  const sets = await okSets(world);
  assert.equal(sets.length, 2);
  // the cooldown counts from the start of the first attempt (set timestamps come a little later,
  // after the lock and the preflight): the second set starts well after debounce alone would allow
  const gap = Date.parse(sets[1]!.startedAt) - Date.parse(sets[0]!.startedAt);
  assert.ok(gap >= 1500, `second backup ${gap} ms after the first: waited for the cooldown`);
  const afterWrite = Date.parse(sets[1]!.startedAt) - written;
  assert.ok(afterWrite >= 300, `second backup ${afterWrite} ms after the write: not before the debounce`);
  assert.ok(Date.now() - firstDone < 15_000);
  // nothing else happens without changes
  await sleep(2500);
  assert.equal((await readSets(world.backupDir)).length, 2);
  assert.equal((proc.output().match(/change seen/g) ?? []).length, 2, 'one burst, one cooldown change');
  assert.ok(sets.every((s) => s.command === 'backup-all (watch zotero.sqlite)'));
  const run = await proc.stop('SIGINT');
  assert.equal(run.code, 0, proc.output());
  assert.match(proc.output(), /stopped after 2 backup\(s\)/);
});

test('watch: the file replaced by rename is detected (watching the folder, filtered by name)', async (t) => {
  const world = await createQnbWorld(t);
  const file = join(world.cwd, 'zotero.sqlite');
  await writeFile(file, 'v1');
  const proc = await startWatch(t, world, file);
  await writeFile(join(world.cwd, 'other-file.txt'), 'not watched');
  await writeFile(join(world.cwd, 'zotero.sqlite.tmp'), 'v2 — a whole new file');
  await sleep(700);
  assert.equal((await readSets(world.backupDir)).length, 0, 'other files do not trigger');
  await rename(join(world.cwd, 'zotero.sqlite.tmp'), file);
  await proc.waitFor(/backup 1: ok/);
  // replaced again, after the cooldown: still watched (the new inode too)
  await sleep(2200);
  await writeFile(join(world.cwd, 'zotero.sqlite.tmp'), 'v3');
  await rename(join(world.cwd, 'zotero.sqlite.tmp'), file);
  await proc.waitFor(/backup 2: ok/);
  assert.equal((await okSets(world)).length, 2);
  const run = await proc.stop('SIGTERM');
  assert.equal(run.code, 0);
});

test('watch: SIGINT while idle exits 0; a file that does not exist yet is waited for; bad input', async (t) => {
  const world = await createQnbWorld(t);
  const file = join(world.cwd, 'zotero.sqlite');
  const proc = follow(
    t,
    world.start(['watch', 'zotero.sqlite', '--debounce', '300ms', '--cooldown', '2s', '--skip-neo4j']),
  );
  await proc.waitFor(/watching .*zotero\.sqlite \(does not exist yet\)/);
  await writeFile(file, 'created');
  await proc.waitFor(/backup 1: ok/);
  const run = await proc.stop('SIGINT');
  assert.equal(run.code, 0);
  assert.match(proc.output(), /stopping: no backup running/);
  assert.ok(!(await readdir(world.backupDir)).includes('.qnb.lock'));

  const badDuration = await world.qnb(['watch', file, '--cooldown', 'soon']);
  assert.equal(badDuration.code, 2);
  assert.deepEqual(errorLines(badDuration), [
    '✘ --cooldown: "soon" is not a duration — use a duration like 1h, 30m or 1h30m',
  ]);
  const noFolder = await world.qnb(['watch', join(world.cwd, 'missing', 'zotero.sqlite')]);
  assert.equal(noFolder.code, 1);
  assert.match(noFolder.stderr, /^✘ watch .*: folder .*missing does not exist/m);
});
