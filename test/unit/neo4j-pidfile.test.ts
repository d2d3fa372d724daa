/**
 * How qnb tells whether a local Neo4j runs without starting a JVM: the PID file of the run folder,
 * believed only when that process is a Neo4j — a stale file whose PID now belongs to another
 * process reads as stopped (or qnb could skip starting Neo4j again after a backup).
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { runningFromPidFile } from '../../src/targets/neo4j/neo4j-runtime.js';
import { tempDir } from '../helpers/tmp.js';

test('PID file: missing → stopped; a non-Neo4j process → stopped; no run folder → ask bin/neo4j status', async (t) => {
  const home = await tempDir(t);
  const conf = join(home, 'conf');
  await mkdir(conf);
  assert.equal(await runningFromPidFile(home, conf), undefined, 'no run folder: unknown');
  await mkdir(join(home, 'run'));
  assert.equal(await runningFromPidFile(home, conf), false, 'no PID file: stopped');
  await writeFile(join(home, 'run', 'neo4j.pid'), `${process.pid}\n`);
  assert.equal(await runningFromPidFile(home, conf), false, 'this node process is not a Neo4j');
  await writeFile(join(home, 'run', 'neo4j.pid'), '4194999\n');
  assert.equal(await runningFromPidFile(home, conf), false, 'a PID that does not exist');
  // server.directories.run elsewhere
  await writeFile(join(conf, 'neo4j.conf'), 'server.directories.run=/nonexistent/qnb-run\n');
  assert.equal(await runningFromPidFile(home, conf), undefined);
});
