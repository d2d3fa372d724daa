/**
 * Quiesce hooks (docs/consistency.md): a failing beforeSet backs nothing up; afterSet runs after
 * a failed set and after an interrupted one; a hook over its timeout is killed and reported.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQnbWorld } from '../helpers/qnb-world.js';

const config = (cwd: string, hooks: object) =>
  writeFile(join(cwd, 'qnb.config.json'), JSON.stringify({ hooks }));

test('a failing beforeSet: nothing backed up, the set failed, afterSet still ran', async (t) => {
  const w = await createQnbWorld(t);
  const after = join(w.cwd, 'after-ran');
  await config(w.cwd, { beforeSet: 'echo indexer will not pause >&2; exit 3', afterSet: `touch '${after}'` });
  const run = await w.qnb(['backup-qdrant']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /not backed up: hooks\.beforeSet failed: exited with status 3: indexer will not pause/,
  );
  assert.match(run.stdout, /❌ hooks\.beforeSet FAILED/);
  assert.ok(existsSync(after), 'afterSet ran');
  const files = await readdir(join(w.backupDir, 'qdrant')).catch(() => []);
  assert.deepEqual(files, [], 'no snapshot taken');
});

test('SIGINT during the set: interrupted, and afterSet ran', async (t) => {
  const w = await createQnbWorld(t);
  const after = join(w.cwd, 'after-ran');
  await writeFile(
    join(w.cwd, 'qnb.config.json'),
    JSON.stringify({ hooks: { afterSet: `touch '${after}'` } }),
  );
  w.server.inject({ op: 'create-snapshot', fault: { kind: 'slow', delayMs: 4000 } });
  const qnb = w.start(['backup-qdrant']);
  for (let i = 0; i < 100 && !/snapshot of/.test(qnb.output().stderr); i++) await sleep(50);
  qnb.child.kill('SIGINT');
  const run = await qnb.done;
  assert.equal(run.code, 130, run.stdout + run.stderr);
  assert.ok(existsSync(after), 'afterSet ran after the interrupt');
});

test('a hook over its timeout is killed and reported', async (t) => {
  const w = await createQnbWorld(t);
  await config(w.cwd, { beforeSet: 'sleep 30', timeout: '1s' });
  const started = Date.now();
  const run = await w.qnb(['backup-qdrant']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(run.stdout, /hooks\.beforeSet failed: timed out after 1 s/);
  assert.ok(Date.now() - started < 20_000, 'not waiting for the hook');
});

test('a failing afterSet: the set is ok, but the run exits 3 with one line naming the hook and the fix', async (t) => {
  const w = await createQnbWorld(t);
  await config(w.cwd, { afterSet: 'echo indexer will not resume >&2; exit 7' });
  const run = await w.qnb(['backup-qdrant']);
  assert.equal(run.code, 3, run.stdout + run.stderr);
  assert.match(run.stdout, /✅ Qdrant/);
  assert.match(
    run.stderr,
    /✘ hooks\.afterSet failed: exited with status 7: indexer will not resume — the writers may still be paused: run the hooks\.afterSet command by hand/,
  );
  // qnb run: the backup is good, but the run failed, so CMD does not run
  const marker = join(w.cwd, 'cmd-ran');
  const guarded = await w.qnb(['run', '--skip-neo4j', '--', 'touch', marker]);
  assert.equal(guarded.code, 3, guarded.stdout + guarded.stderr);
  assert.match(guarded.stderr, /✘ hooks\.afterSet failed: .* — not running touch/);
  assert.ok(!existsSync(marker), 'CMD did not run');
});
