/**
 * The crash marker names every child qnb has in flight while Neo4j is stopped — on disk before
 * the spawn returns to other code — so recovery can wait for a `neo4j stop` that outlives qnb.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clearStoppedMarker,
  processAlive,
  readStoppedMarkerSync,
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

test('processAlive: a process that ended, or a PID reused with another start time, is not alive', async () => {
  assert.equal(processAlive(process.pid, null), true);
  assert.equal(processAlive(2 ** 22 + 11, null), false);
  assert.equal(processAlive(process.pid, '1'), false);
});
