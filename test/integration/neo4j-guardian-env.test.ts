/**
 * The guardian starts Neo4j with the environment of the qnb run that stopped it (config.neo4j.env:
 * JAVA_HOME, PATH, NEO4J_CONF, …), not an almost empty one — and the password (its Bolt settings,
 * NEO4J_PASSWORD) lands in no argv and not in its log; the Bolt settings are not handed on. A fake `bin/neo4j` records what it
 * got; the marker's writer is made to die, so the real guardian process takes over.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GUARDIAN_ENV,
  GUARDIAN_LOG,
  GUARDIAN_REPORT,
  startGuardian,
} from '../../src/targets/neo4j/neo4j-guardian.js';
import {
  clearStoppedMarker,
  readStoppedMarkerSync,
  STOPPED_MARKER,
  writeStoppedMarker,
} from '../../src/targets/neo4j/neo4j-marker.js';
import { freePort } from '../servers/neo4j/harness.js';

const FAKE_NEO4J = `#!/bin/sh
{ echo "ARGS=$*"; echo "PARENT=$(tr '\\0' ' ' < /proc/$PPID/cmdline)"; env; } > "$NEO4J_HOME/neo4j-$1.env"
if [ "$1" = start ]; then echo "fake neo4j: not starting"; exit 1; fi
exit 3
`;

/** KEY=VALUE lines (the first `=` splits). */
const parse = (text: string) =>
  new Map(text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

test('after qnb died, the guardian runs neo4j with the run’s JAVA_HOME, PATH and NEO4J_CONF; the password stays out', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'qnb-guardian-env-'));
  t.after(async () => {
    await clearStoppedMarker(join(root, 'backups'));
    await rm(root, { recursive: true, force: true });
  });
  const home = join(root, 'home');
  const conf = join(root, 'custom-conf');
  const backupDir = join(root, 'backups');
  for (const d of [join(home, 'bin'), join(home, 'conf'), conf, backupDir])
    await mkdir(d, { recursive: true });
  await writeFile(join(conf, 'neo4j.conf'), '');
  await writeFile(join(home, 'bin', 'neo4j'), FAKE_NEO4J);
  await chmod(join(home, 'bin', 'neo4j'), 0o755);
  const password = `pw-${randomBytes(8).toString('hex')}`;
  // what config.neo4j.env holds for a run on an install that needs these
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: `${join(root, 'custom-bin')}:${process.env.PATH}`,
    JAVA_HOME: join(root, 'jdk-21'),
    NEO4J_CONF: conf,
    NEO4J_PASSWORD: password,
  };
  const bolt = { uri: `bolt://127.0.0.1:${await freePort()}`, user: 'neo4j', password, database: 'neo4j' };

  const marker = await writeStoppedMarker(backupDir, { kind: 'local', home }, true);
  const warnings: string[] = [];
  const guardian = startGuardian(
    backupDir,
    marker,
    bolt,
    { emit: (e) => (e.type === 'warning' ? warnings.push(e.message) : undefined) },
    env,
  );
  t.after(() => guardian.end());
  assert.deepEqual(warnings, []);
  const watched = readStoppedMarkerSync(backupDir)!;
  assert.ok(watched.guardian?.pid, 'the guardian is recorded in the marker');
  // the writer "dies": the marker now names a process that has ended
  const dead = spawnSync(process.execPath, ['-e', '']).pid!;
  const temp = join(backupDir, `${STOPPED_MARKER}.tmp`);
  await writeFile(temp, JSON.stringify({ ...watched, pid: dead, procStart: null }));
  await rename(temp, join(backupDir, STOPPED_MARKER));

  const deadline = Date.now() + 60_000;
  let report: string | undefined;
  while (!report && Date.now() < deadline) {
    report = await readFile(join(backupDir, GUARDIAN_REPORT), 'utf8').catch(() => undefined);
    await sleep(100);
  }
  const log = await readFile(join(backupDir, GUARDIAN_LOG), 'utf8');
  assert.ok(report, `the guardian acted within 60 s; its log:\n${log}`);
  assert.match(report, /"action":"failed".*neo4j start failed: fake neo4j: not starting/);

  const started = parse(await readFile(join(home, 'neo4j-start.env'), 'utf8'));
  assert.equal(started.get('ARGS'), 'start');
  assert.equal(started.get('JAVA_HOME'), env.JAVA_HOME);
  assert.equal(started.get('PATH'), env.PATH);
  assert.equal(started.get('NEO4J_CONF'), conf);
  assert.equal(started.get('NEO4J_HOME'), home);
  assert.equal(started.get(GUARDIAN_ENV), undefined, 'the Bolt settings are not handed on');
  // `neo4j status` (is it running?) ran with the same environment
  const status = parse(await readFile(join(home, 'neo4j-status.env'), 'utf8'));
  assert.equal(status.get('JAVA_HOME'), env.JAVA_HOME);
  assert.equal(status.get('NEO4J_CONF'), conf);
  // as for qnb's own runs of neo4j: the environment, never the argv (of neo4j or the guardian)
  assert.match(started.get('PARENT')!, /guardian-main\.(ts|js) /, "the guardian's argv");
  for (const argv of [started.get('ARGS'), started.get('PARENT'), status.get('PARENT')])
    assert.ok(!argv!.includes(password), 'the password is in no argv');
  assert.ok(!log.includes(password) && !report.includes(password), 'nor in its log or report');
});
