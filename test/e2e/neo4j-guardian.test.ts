/**
 * Guarantee 3 when qnb dies mid-stop: qnb is killed with SIGKILL while its `neo4j stop` (local
 * install) or `docker stop` (container) child is still shutting Neo4j down, or while
 * `neo4j-admin database load` runs — and with NO further qnb command, Neo4j answers Bolt again
 * within 60 s (its guardian waited for the stop, then started it), or, for a load cut short, a
 * clear message names the safety dump and the command that loads it back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import neo4j from 'neo4j-driver';
import { qnbEnv, runQnb, startQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph } from '../helpers/neo4j-data.js';
import { useDockerNeo4j } from '../helpers/neo4j-docker-world.js';
import { dockerAvailable } from '../servers/neo4j/docker-harness.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable, waitForBolt } from '../servers/neo4j/harness.js';

const MARKER = '.qnb-neo4j-stopped.json';

interface Marker {
  pid: number;
  children?: { pid: number; what: string }[];
  guardian?: { pid: number };
  loading?: { file: string };
}

const readMarker = (dir: string): Marker | undefined => {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return undefined;
  }
};

/** Guardians seen; ended before a server is removed, so none starts a server the test removed. */
const guardians = new Set<number>();
function endGuardians(): void {
  for (const pid of guardians) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Starts qnb and kills it (SIGKILL) the moment its marker names a live child matching `child`
 * (and, with `loading`, a load in flight): the kill lands DURING that child's work.
 */
async function killDuring(
  args: string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv },
  child: RegExp,
  extra: (m: Marker) => boolean = () => true,
): Promise<{ marker: Marker; childPid: number; output: string }> {
  const dir = join(opts.cwd, 'backups');
  const proc = startQnb(args, opts);
  let exited = false;
  void proc.done.then(() => {
    exited = true;
  });
  const deadline = Date.now() + 300_000;
  for (;;) {
    assert.ok(!exited, `qnb ended before ${child}: ${proc.output().stderr}`);
    assert.ok(Date.now() < deadline, `no ${child} within 300 s: ${proc.output().stderr}`);
    const m = readMarker(dir);
    const c = m?.children?.find((x) => child.test(x.what) && alive(x.pid));
    if (m?.guardian) guardians.add(m.guardian.pid);
    if (m && c && extra(m)) {
      proc.child.kill('SIGKILL');
      await proc.done;
      return { marker: m, childPid: c.pid, output: proc.output().stderr };
    }
    await sleep(10);
  }
}

/** Waits for Bolt; returns the seconds it took (fails after `limitS`). */
async function boltWithin(url: string, password: string, limitS: number): Promise<number> {
  const t0 = Date.now();
  await waitForBolt(url, 'neo4j', password, limitS * 1000);
  return (Date.now() - t0) / 1000;
}

/**
 * After a kill during a stop: Bolt may still answer while the orphaned stop shuts Neo4j down, so
 * first that stop must end (the guardian cannot start Neo4j before; it takes ~10 s, minutes on a
 * loaded machine), then Neo4j must answer again within 60 s — with no qnb command run.
 * Returns the seconds from the stop's end to Bolt.
 */
async function backWithin60s(url: string, password: string, stopPid: number): Promise<number> {
  const t0 = Date.now();
  while (alive(stopPid) && Date.now() - t0 < 300_000) await sleep(100);
  assert.ok(!alive(stopPid), 'the stop qnb left behind ended');
  console.log(`# the orphaned stop ended ${((Date.now() - t0) / 1000).toFixed(1)} s after the kill`);
  return boltWithin(url, password, 60);
}

const neo4jAvail = await neo4jAvailable();
if (!neo4jAvail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${neo4jAvail.hint}`);

describe('guardian: local Neo4j', {
  skip: neo4jAvail.ok ? false : `Neo4j missing — ${neo4jAvail.hint}`,
  timeout: 30 * 60_000,
}, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 600_000 });
  const dir = () => join(cwd, 'backups');

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    await seedTypedGraph(n.boltUrl, password);
    cwd = await mkdtemp(join(tmpdir(), 'qnb-guardian-e2e-'));
    env = qnbEnv({
      NEO4J_HOME: n.home,
      NEO4J_URI: n.boltUrl,
      NEO4J_PASSWORD: password,
      JAVA_HOME: process.env.JAVA_HOME,
    });
  });
  after(async () => {
    endGuardians();
    await n?.remove();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('SIGKILL during `neo4j stop`: Neo4j answers again within 60 s of the stop ending, with no qnb command', async () => {
    const before = await graphHash(n.boltUrl, password);
    const { marker, childPid } = await killDuring(['backup-neo4j'], { cwd, env }, /bin\/neo4j stop$/);
    assert.ok(marker.guardian, 'the marker names its guardian');
    const secs = await backWithin60s(n.boltUrl, password, childPid);
    // and it stays up: the stop qnb left behind is over
    await sleep(3_000);
    assert.equal((await n.neo4j(['status'])).code, 0, 'Neo4j still runs');
    assert.equal((await graphHash(n.boltUrl, password)).hash, before.hash);
    for (let i = 0; i < 50 && existsSync(join(dir(), MARKER)); i++) await sleep(100);
    assert.ok(!existsSync(join(dir(), MARKER)), 'the guardian cleared the marker');
    const log = readFileSync(join(dir(), '.qnb-neo4j-guardian.log'), 'utf8');
    assert.match(log, /taking over/);
    assert.ok(!log.includes(password), 'no password in the guardian log');
    // status shows what the guardian did; the next run reports it once
    const status = await qnb(['status']);
    assert.match(status.stdout, /its guardian acted .*starting it again/);
    const next = await qnb(['verify']);
    assert.match(next.stderr, /guardian acted/);
    assert.doesNotMatch((await qnb(['status'])).stdout, /guardian acted/);
    console.log(`# Neo4j answered ${secs.toFixed(1)} s after the stop ended`);
  });

  test('SIGKILL of qnb AND its guardian during `neo4j stop`: the next run waits for the stop, then starts Neo4j', async () => {
    const { marker, childPid } = await killDuring(['backup-neo4j'], { cwd, env }, /bin\/neo4j stop$/);
    process.kill(marker.guardian!.pid, 'SIGKILL');
    const next = await qnb(['verify']);
    assert.equal(next.code, 0, next.stdout + next.stderr);
    assert.match(next.stderr, /left stopped by an interrupted qnb run/);
    assert.ok(!alive(childPid));
    await boltWithin(n.boltUrl, password, 5);
    await sleep(2_000);
    assert.equal((await n.neo4j(['status'])).code, 0, 'Neo4j still runs after the stop qnb left behind');
    assert.ok(!existsSync(join(dir(), MARKER)));
  });

  test('SIGKILL during `neo4j-admin database load`: started only if the store checks, else a clear message naming the safety dump', async () => {
    // a graph larger than a pipe buffer, so the load is really cut short
    const driver = neo4j.driver(n.boltUrl, neo4j.auth.basic('neo4j', password));
    try {
      await driver.executeQuery(
        "UNWIND range(1, 4000) AS i CREATE (:Blob {i: i, s: reduce(s = '', x IN range(1, 30) | s + randomUUID())})",
      );
    } finally {
      await driver.close();
    }
    const backup = await qnb(['backup-neo4j']);
    assert.equal(backup.code, 0, backup.stderr);
    const { marker } = await killDuring(
      ['restore-neo4j', '--latest', '--yes'],
      { cwd, env },
      /neo4j-admin database load/,
      (m) => Boolean(m.loading),
    );
    assert.ok(marker.loading);
    // the guardian decides without any qnb command: up within 60 s plus the store check, or a report
    const report = join(dir(), '.qnb-neo4j-guardian.json');
    const deadline = Date.now() + 180_000;
    while (!existsSync(report) && Date.now() < deadline) await sleep(200);
    assert.ok(existsSync(report), 'the guardian recorded what it did');
    const r = JSON.parse(readFileSync(report, 'utf8')) as { action: string; message: string };
    const status = await qnb(['status']);
    assert.equal(status.code, 6, 'status is unhealthy while the database may be half-loaded');
    assert.match(status.stdout, /may be half-loaded/);
    assert.match(
      status.stdout,
      /safety dump neo4j\/neo4j-\d{8}-\d{6}\.dump: `qnb restore-neo4j neo4j\/\S+ --yes`/,
    );
    if (r.action === 'started') {
      await boltWithin(n.boltUrl, password, 5);
    } else {
      assert.equal(r.action, 'left-stopped', r.message);
      assert.match(
        r.message,
        /may be half-loaded and Neo4j was left stopped — what was there before is in the safety dump/,
      );
      assert.notEqual((await n.neo4j(['status'])).code, 0, 'a store that fails the check is not started');
    }
    const doctor = await qnb(['doctor', '--skip-qdrant']);
    assert.match(doctor.stdout, /interrupted restore — .*may be half-loaded/);
    assert.match(doctor.stdout, /qnb restore-neo4j neo4j\/\S+ --yes/);
    // the named command loads the safety dump back and clears the notice
    const cmd = /`qnb (restore-neo4j \S+ --yes)`/.exec(status.stdout)![1]!.split(' ');
    const reload = await qnb(cmd);
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    await boltWithin(n.boltUrl, password, 5);
    const after = await qnb(['status']);
    assert.doesNotMatch(after.stdout, /half-loaded/);
  });

  test('a second Ctrl-C during the load: qnb quits at once, and the terminal names who takes over and the command that puts the database back', async () => {
    const backup = await qnb(['backup-neo4j']);
    assert.equal(backup.code, 0, backup.stderr);
    const proc = startQnb(['restore-neo4j', '--latest', '--yes'], { cwd, env });
    const deadline = Date.now() + 300_000;
    for (;;) {
      const m = readMarker(dir());
      if (m?.guardian) guardians.add(m.guardian.pid);
      if (m?.loading && m.children?.some((c) => /neo4j-admin database load/.test(c.what) && alive(c.pid)))
        break;
      assert.ok(proc.child.exitCode === null, `qnb ended before the load: ${proc.output().stderr}`);
      assert.ok(Date.now() < deadline, `no load within 300 s: ${proc.output().stderr}`);
      await sleep(10);
    }
    proc.child.kill('SIGINT');
    await sleep(100);
    proc.child.kill('SIGINT');
    const run = await proc.done;
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /stopping safely \(press again to quit at once\)/);
    assert.match(
      run.stderr,
      /qnb: neo4j "neo4j": quit while neo4j\/\S+ was loading, so the database may be half-loaded: qnb's guardian \(PID \d+\) takes over and starts Neo4j only if `neo4j-admin database check` passes/,
    );
    const named = /`qnb (restore-neo4j neo4j\/\S+ --yes)` puts back what was there before/.exec(run.stderr);
    assert.ok(named, run.stderr);
    // the guardian does what the terminal said: it records what it did, and the named command puts the database back
    const report = join(dir(), '.qnb-neo4j-guardian.json');
    const until = Date.now() + 180_000;
    while (!existsSync(report) && Date.now() < until) await sleep(200);
    assert.ok(existsSync(report), 'the guardian recorded what it did');
    const reload = await qnb(named[1]!.split(' '));
    assert.equal(reload.code, 0, reload.stdout + reload.stderr);
    await boltWithin(n.boltUrl, password, 5);
    const status = await qnb(['status']);
    assert.doesNotMatch(status.stdout, /half-loaded/);
  });

  const livePid = () => readFileSync(join(n.home, 'run', 'neo4j.pid'), 'utf8').trim();
  /** A valid dump to drill on (the tests above leave some; alone, this test makes one). */
  const ensureDump = async () => {
    const list = JSON.parse((await qnb(['list', '--json'])).stdout) as {
      backups: { kind: string; valid: boolean }[];
    };
    if (list.backups.some((b) => b.kind === 'neo4j-dump' && b.valid)) return;
    const r = await qnb(['backup-neo4j']);
    assert.equal(r.code, 0, r.stderr);
  };

  test('verify --deep: the borrowed scripts prove they use the scratch home; live PID and Bolt answer unchanged', async () => {
    await ensureDump();
    const pid = livePid();
    const before = await graphHash(n.boltUrl, password);
    const run = await qnb(['verify', '--deep']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /sha256 \+ restore drill/);
    assert.equal(livePid(), pid, 'the live server is the same process');
    assert.equal((await graphHash(n.boltUrl, password)).hash, before.hash);
  });

  test('a live install whose scripts hard-code NEO4J_HOME: the drill refuses before touching anything', async () => {
    const { chmod, mkdir, symlink, writeFile } = await import('node:fs/promises');
    const fake = join(cwd, 'packaged-neo4j');
    await mkdir(join(fake, 'bin'), { recursive: true });
    await symlink(join(n.home, 'lib'), join(fake, 'lib'));
    for (const name of ['neo4j', 'neo4j-admin']) {
      // like a distro package: the wrapper pins the live home and config, whatever the caller says
      await writeFile(
        join(fake, 'bin', name),
        `#!/bin/sh\nexport NEO4J_HOME='${n.home}'\nexport NEO4J_CONF='${n.home}/conf'\nexec '${n.home}/bin/${name}' "$@"\n`,
      );
      await chmod(join(fake, 'bin', name), 0o755);
    }
    await ensureDump();
    const pid = livePid();
    const before = await graphHash(n.boltUrl, password);
    const run = await runQnb(['verify', '--deep'], {
      cwd,
      env: { ...env, NEO4J_HOME: fake },
      timeoutMs: 600_000,
    });
    assert.notEqual(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout + run.stderr,
      /drill: \S+packaged-neo4j\/bin\/neo4j-admin does not honour the scratch NEO4J_HOME\/NEO4J_CONF \(it uses home \S+, config \S+\); refusing/,
    );
    assert.equal(livePid(), pid, 'the live server is the same process');
    assert.equal((await graphHash(n.boltUrl, password)).hash, before.hash);
  });
});

const dockerAvail = await dockerAvailable();
if (!dockerAvail.ok && IN_CI) throw new Error(`Docker is required in CI: ${dockerAvail.hint}`);

describe('guardian: Neo4j in Docker', {
  skip: dockerAvail.ok ? false : `Docker missing — ${dockerAvail.hint}`,
  timeout: 20 * 60_000,
}, () => {
  const w = useDockerNeo4j('qnb-guardian-neo4j', { cleanup: endGuardians });

  test('SIGKILL during `docker stop`: the container answers Bolt again within 60 s of the stop ending, with no qnb command', async () => {
    const before = await graphHash(w.c.boltUrl, w.password);
    const { childPid } = await killDuring(['backup-neo4j'], { cwd: w.cwd, env: w.env }, /docker stop -t/);
    const secs = await backWithin60s(w.c.boltUrl, w.password, childPid);
    await sleep(3_000);
    await boltWithin(w.c.boltUrl, w.password, 2);
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, before.hash);
    console.log(`# the container answered ${secs.toFixed(1)} s after the stop ended`);
  });
});
