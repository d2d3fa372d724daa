/**
 * doctor's Neo4j recovery (a marker left by a dead qnb) runs only while no other qnb run holds
 * the backups folder lock: that run owns Neo4j's stop and start, and starting Neo4j in the middle
 * of its dump or load would break it. A folder doctor cannot lock at all does not stop it.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultConfig } from '../../src/config/schema.js';
import { acquireLock } from '../../src/core/lock.js';
import { neo4jChecks } from '../../src/targets/neo4j/neo4j-doctor.js';
import type { Neo4jRuntime } from '../../src/targets/neo4j/neo4j-runtime.js';
import { tempDir } from '../helpers/tmp.js';

/** doctor's Neo4j dependencies over a fake local install; `recoveries` counts the recoveries run. */
function depsFor(home: string, backupDir: string) {
  const deps = {
    recoveries: 0,
    config: { ...defaultConfig().neo4j, mode: 'dump' as const, home, uri: 'bolt://127.0.0.1:1' },
    backupDir,
    neo4j: () =>
      ({
        spec: { kind: 'local', home },
        preflight: async () => {},
        describe: () => home,
      }) as unknown as Neo4jRuntime,
    recoverNeo4j: async () => {
      deps.recoveries++;
      return 'started Neo4j again';
    },
    artifacts: async () => [],
  };
  return deps;
}

test('doctor leaves Neo4j recovery to the run holding the lock, and recovers when none does', async (t) => {
  const dir = await tempDir(t);
  const deps = depsFor(dir, dir);
  const held = await acquireLock(dir, 'restore-neo4j');
  const during = await neo4jChecks(deps);
  assert.equal(deps.recoveries, 0, 'nothing done while another run holds the lock');
  assert.ok(!during.some((c) => c.name === 'left stopped by a crashed qnb'));
  await held.release();
  const after = await neo4jChecks(deps);
  assert.equal(deps.recoveries, 1);
  assert.equal(after.find((c) => c.name === 'left stopped by a crashed qnb')?.detail, 'started Neo4j again');
  // doctor released the lock it took
  const again = await acquireLock(dir, 'backup-all');
  await again.release();
});

test('a backups folder doctor cannot lock (not a folder, full, read-only) does not stop the recovery', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'backups');
  await writeFile(file, 'not a folder');
  const deps = depsFor(dir, file);
  const checks = await neo4jChecks(deps);
  assert.equal(deps.recoveries, 1);
  assert.ok(checks.some((c) => c.name === 'left stopped by a crashed qnb'));
});
