/**
 * The crash marker names every child qnb has in flight while Neo4j is stopped — on disk before
 * the spawn returns to other code — so recovery can wait for a `neo4j stop` that outlives qnb.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { QnbEvent } from '../../src/core/events.js';
import { exitNotes } from '../../src/core/exit-notes.js';
import { acquireLock } from '../../src/core/lock.js';
import { recoverAfterCrash } from '../../src/targets/neo4j/neo4j-guardian.js';
import {
  clearStoppedMarker,
  forcedExitNote,
  orphanedStoppedMarker,
  processAlive,
  readStoppedMarkerSync,
  STOPPED_MARKER,
  type StoppedMarker,
  updateStoppedMarker,
  writeStoppedMarker,
} from '../../src/targets/neo4j/neo4j-marker.js';
import { runCommand } from '../../src/targets/neo4j/neo4j-runtime.js';

test('children are recorded in the marker while they run and removed when they end', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-marker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const m = await writeStoppedMarker(dir, { kind: 'local', home: '/nowhere' }, true);
  assert.match(m.token ?? '', /^[0-9a-f]{16}$/);
  const running = runCommand('sleep', ['0.5'], 'test');
  // synchronously on disk right after the spawn
  const during = readStoppedMarkerSync(dir);
  assert.equal(during?.children?.length, 1);
  assert.equal(during?.children?.[0]?.what, 'sleep 0.5');
  assert.ok(processAlive(during!.children![0]!.pid, during!.children![0]!.procStart));
  await running;
  assert.deepEqual(readStoppedMarkerSync(dir)?.children, []);
  updateStoppedMarker({ loading: { database: 'neo4j', file: 'neo4j/x.dump', since: 'now' } });
  assert.equal(readStoppedMarkerSync(dir)?.loading?.file, 'neo4j/x.dump');
  await clearStoppedMarker(dir);
  assert.equal(readStoppedMarkerSync(dir), undefined);
  // no active marker: children are not recorded anywhere
  await runCommand('true', [], 'test');
  assert.equal(readStoppedMarkerSync(dir), undefined);
});

test('a forced exit (second Ctrl-C) while Neo4j is stopped says who takes over and, mid-load, the command that puts it back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-marker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  assert.deepEqual(exitNotes(), [], 'nothing to say while Neo4j runs');
  await writeStoppedMarker(dir, { kind: 'local', home: '/nowhere' }, true);
  updateStoppedMarker({ guardian: { pid: 4242, procStart: null } });
  const [stopped, ...more] = exitNotes();
  assert.deepEqual(more, []);
  assert.match(
    stopped ?? '',
    /^neo4j: quit while Neo4j was stopped by qnb: qnb's guardian \(PID 4242\) takes over and starts it once/,
  );
  updateStoppedMarker({
    loading: { database: 'neo4j', file: 'neo4j/new.dump', safety: 'neo4j/old.dump', since: 'now' },
  });
  const [loading] = exitNotes();
  assert.match(
    loading ?? '',
    /neo4j "neo4j": quit while neo4j\/new\.dump was loading, so the database may be half-loaded/,
  );
  assert.match(loading ?? '', /starts Neo4j only if `neo4j-admin database check` passes/);
  assert.match(loading ?? '', /`qnb restore-neo4j neo4j\/old\.dump --yes` puts back what was there before/);
  await clearStoppedMarker(dir);
  assert.deepEqual(exitNotes(), [], 'the note leaves with the marker');
  // no guardian: the next run recovers; Neo4j was not running: nothing to start, nothing to say
  const base = (await writeStoppedMarker(dir, { kind: 'local', home: '/nowhere' }, false)) as StoppedMarker;
  assert.equal(forcedExitNote(base), undefined);
  const notRunning = forcedExitNote({
    ...base,
    loading: { database: 'neo4j', file: 'neo4j/new.dump', safety: 'neo4j/old.dump', since: 'now' },
  });
  assert.match(notRunning ?? '', /may be half-loaded; `qnb restore-neo4j neo4j\/old\.dump --yes` puts back/);
  assert.doesNotMatch(
    notRunning ?? '',
    /takes over|starts Neo4j/,
    'nobody starts a Neo4j that was not running',
  );
  assert.match(
    forcedExitNote({ ...base, wasRunning: true }) ?? '',
    /the next qnb run \(or `qnb doctor`\) takes over/,
  );
  await clearStoppedMarker(dir);
});

test('processAlive: a process that ended, or a PID reused with another start time, is not alive', async () => {
  assert.equal(processAlive(process.pid, null), true);
  assert.equal(processAlive(2 ** 22 + 11, null), false);
  assert.equal(processAlive(process.pid, '1'), false);
});

test('under the lock, a marker written under another lock is orphaned wherever it was written (a recreated sidecar)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-marker-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const lock = await acquireLock(dir, 'backup-all');
  t.after(() => lock.release());
  const mine = await writeStoppedMarker(dir, { kind: 'docker', container: 'agent-zot-neo4j' }, true);
  assert.equal(mine.lockToken, lock.info.token, 'the marker records the lock its writer held');
  await clearStoppedMarker(dir);

  // written in another container (its PIDs mean nothing here) by a run that held another lock
  const elsewhere: StoppedMarker = {
    runtime: { kind: 'docker', container: 'agent-zot-neo4j' },
    pid: 1,
    procStart: null,
    host: 'a1b2c3d4e5f6',
    pidNs: 'pid:[1]',
    container: 'e'.repeat(64),
    since: new Date().toISOString(),
    wasRunning: false,
    token: 'm1',
    children: [],
  };
  const put = (m: StoppedMarker) => writeFile(join(dir, STOPPED_MARKER), JSON.stringify(m));
  await put(elsewhere);
  assert.equal(await orphanedStoppedMarker(dir), undefined, 'no lock record: never acted on from here');
  await put({ ...elsewhere, lockToken: lock.info.token });
  assert.equal(await orphanedStoppedMarker(dir), undefined, 'written under the lock held now');
  await put({ ...elsewhere, lockToken: 'an-earlier-run' });
  assert.equal((await orphanedStoppedMarker(dir))?.token, 'm1');

  // recovery waits out a stop that run may have begun, then acts (here: Neo4j was not running)
  const events: QnbEvent[] = [];
  const started = Date.now();
  await recoverAfterCrash({
    backupDir: dir,
    bolt: { uri: 'bolt://127.0.0.1:1', user: 'neo4j', password: 'x', database: 'neo4j' },
    reporter: { emit: (e: QnbEvent) => events.push(e) } as never,
    runtimeFor: () => ({}) as never,
    settleMs: 600,
  });
  assert.ok(Date.now() - started >= 400, 'waited for the stop to settle');
  assert.ok(
    events.some((e) => 'message' in e && /another container that has ended; waiting/.test(String(e.message))),
  );
  assert.equal(readStoppedMarkerSync(dir), undefined, 'the orphaned marker is dealt with');
});
