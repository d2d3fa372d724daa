/**
 * Neo4j end to end on a real Neo4j 5.26 Community local install with the real neo4j-admin,
 * driven through the real qnb binary: backup → wreck → restore → same graph (canonical hash),
 * guarantee 3 (never left stopped: failing dump, SIGINT, SIGTERM, SIGKILL + next run),
 * and bad input.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type QnbRun, qnbEnv, runQnb, startQnb } from '../helpers/cli.js';
import { IN_CI, requireComponent } from '../helpers/components.js';
import { driverFor, graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

describe('Neo4j local install through the CLI', { skip, timeout: 40 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let original: Awaited<ReturnType<typeof graphHash>>;
  const qnb = (args: string[], extra: Record<string, string> = {}) =>
    runQnb(args, { cwd, env: { ...env, ...extra }, timeoutMs: 600_000 });
  const bolt = () => graphHash(n.boltUrl, password);
  const isUp = async () => (await n.neo4j(['status'])).code === 0;
  const listed = async () => {
    const r = await qnb(['list', '--json']);
    return (
      JSON.parse(r.stdout) as { backups: { file: string; valid: boolean; target: string; reason: string }[] }
    ).backups.filter((b) => b.target === 'neo4j');
  };

  const marker = () => join(cwd, 'backups', '.qnb-neo4j-stopped.json');
  /** The notice the guardian leaves after an interrupted load whose store failed its check. */
  const writeHalfLoadedNotice = async () => {
    const notice = join(cwd, 'backups', '.qnb-neo4j-half-loaded.json');
    const body = {
      since: new Date().toISOString(),
      database: 'neo4j',
      file: 'neo4j/x.dump',
      loadable: false,
    };
    await writeFile(notice, JSON.stringify({ ...body, runtime: { kind: 'local', home: n.home } }));
    return notice;
  };
  /**
   * Waits until qnb has stopped Neo4j: the dump's transfer line is printed only after
   * `neo4j stop` returned, so from then on Neo4j is down until qnb starts it again.
   */
  const untilNeo4jStopped = async (proc: ReturnType<typeof startQnb>) => {
    const deadline = Date.now() + 300_000;
    let exited = false;
    void proc.done.then(() => {
      exited = true;
    });
    while (!/• download neo4j/.test(proc.output().stderr) && !exited && Date.now() < deadline)
      await sleep(20);
    assert.ok(!exited, `qnb ended before it stopped Neo4j: ${proc.output().stderr}`);
    assert.match(proc.output().stderr, /• download neo4j/, 'qnb got to the dump');
    assert.ok(existsSync(marker()), 'the marker is written before Neo4j is stopped');
  };

  /** A backups folder with room for manifests but not for a dump (a 12 KiB tmpfs), gone after `t`. */
  const fullFolder = async (t: TestContext): Promise<string | undefined> => {
    if (
      !requireComponent(t, 'root (to mount a small tmpfs)', process.getuid?.() === 0, 'run the tests as root')
    )
      return undefined;
    const small = await mkdtemp(join(tmpdir(), 'qnb-full-'));
    const { execFileSync } = await import('node:child_process');
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=12k,mode=0700', 'tmpfs', small]);
    t.after(async () => {
      execFileSync('umount', ['-l', small]);
      await rm(small, { recursive: true, force: true });
    });
    return small;
  };

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    await seedTypedGraph(n.boltUrl, password);
    original = await bolt();
    cwd = await mkdtemp(join(tmpdir(), 'qnb-neo4j-e2e-'));
    env = qnbEnv({
      NEO4J_HOME: n.home,
      NEO4J_URI: n.boltUrl,
      NEO4J_PASSWORD: password,
      JAVA_HOME: process.env.JAVA_HOME,
    });
  });
  after(async () => {
    await n?.remove();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('backup-neo4j: seed output, Neo4j running again, downtime reported', async () => {
    const run = await qnb(['backup-neo4j']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(
      run.stdout,
      /✅ Neo4j \(neo4j\)\n {3}Dump: neo4j-\d{8}-\d{6}\.dump\n {3}Size: \d+\.\d MB\n {3}Nodes: \d+\n {3}Relationships: \d+/,
    );
    assert.match(run.stdout, new RegExp(`Nodes: ${original.nodes}\\b`));
    assert.match(run.stdout, /Downtime: .+ s/);
    assert.ok(await isUp(), 'Neo4j runs after the backup');
    assert.ok(!existsSync(join(cwd, 'backups', '.qnb-neo4j-stopped.json')));
    assert.deepEqual(
      (await listed()).map((b) => b.valid),
      [true],
    );
    assert.ok(!(run.stdout + run.stderr).includes(password));
    assert.equal((await qnb(['verify'])).code, 0);
  });

  test('the password never appears in any process command line during a backup', async () => {
    const { readdir: rd, readFile: rf } = await import('node:fs/promises');
    const proc = startQnb(['backup-neo4j'], { cwd, env });
    let finished = false;
    let seen = 0;
    const leaks: string[] = [];
    const done = proc.done.then((r) => {
      finished = true;
      return r;
    });
    while (!finished) {
      for (const pid of await rd('/proc').catch(() => [] as string[])) {
        if (!/^\d+$/.test(pid)) continue;
        const cmd = await rf(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (!cmd) continue;
        seen++;
        if (cmd.includes(password)) leaks.push(cmd.replace(/\0/g, ' '));
      }
      await sleep(25);
    }
    const run = await done;
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(seen > 100, 'the scan saw the child processes');
    assert.deepEqual(leaks, []);
  });

  test('wreck → restore without --yes refuses → with --yes the exact graph is back, with a safety dump', async () => {
    await wreckGraph(n.boltUrl, password);
    const wrecked = await bolt();
    assert.notEqual(wrecked.hash, original.hash);
    const refused = await qnb(['restore-neo4j', '--latest']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /would be overwritten — re-run with --yes/);
    assert.doesNotMatch(refused.stderr, /against its manifest/, 'refused before the dump is re-hashed');
    assert.equal((await bolt()).hash, wrecked.hash, 'refusal touched nothing');
    const run = await qnb(['restore-neo4j', '--latest', '--yes']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stderr, /checking \S+ against its manifest/);
    // one stop for the safety dump and the load: nothing written between them is lost
    assert.equal(run.stderr.match(/stopping Neo4j/g)?.length, 1, run.stderr);
    assert.match(run.stdout, /Downtime: .+ \(safety dump and load, one stop\)/);
    assert.match(run.stdout, /Nodes: [\d,]+ \(manifest: [\d,]+\) ✔/);
    const restored = await bolt();
    assert.equal(restored.hash, original.hash, 'same nodes, relationships, properties, index and constraint');
    assert.ok(
      restored.schema.some((s) => s.startsWith('paper_uid')),
      'constraint restored',
    );
    const safety = (await listed()).filter((b) => b.reason === 'pre-restore');
    assert.equal(safety.length, 1, 'safety dump of the wrecked database');
    assert.ok(safety[0]!.valid);
  });

  test('a failing dump (full disk) still starts Neo4j again and leaves nothing valid', async (t) => {
    const small = await fullFolder(t);
    if (!small) return;
    const run = await runQnb(['backup-neo4j', '--backup-dir', small], { cwd, env, timeoutMs: 600_000 });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    // neo4j-admin writes the dump itself (--to-path), so the reason is its "No space left on device"
    assert.match(run.stdout, /no space left on device/i);
    assert.ok(!hasStackTrace(run));
    assert.ok(await isUp(), 'Neo4j was started again');
    assert.equal((await bolt()).hash, original.hash);
    const files = await readdir(join(small, 'neo4j'));
    assert.deepEqual(files, [], 'no partial dump left');
  });

  test('a restore whose safety dump fails (full disk) loads nothing: Neo4j runs with what it held', async (t) => {
    const small = await fullFolder(t);
    if (!small) return;
    const d = driverFor(n.boltUrl, password);
    t.after(async () => {
      await d.executeQuery('MATCH (j:Junk) DETACH DELETE j');
      await d.close();
    });
    // written after the backup: the restore would remove it, and without a safety dump lose it
    await d.executeQuery("CREATE (:Junk {note: 'written after the backup'})");
    const now = await bolt();
    const dump = (await listed()).find((b) => b.valid && b.reason !== 'pre-restore')!;
    const run = await runQnb(
      ['restore-neo4j', join(cwd, 'backups', dump.file), '--backup-dir', small, '--yes', '--force'],
      { cwd, env, timeoutMs: 600_000 },
    );
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      /safety backup of "neo4j" failed, so nothing was restored: .*(no space left on device|ENOSPC)/i,
    );
    assert.ok(!hasStackTrace(run));
    assert.equal(run.stderr.match(/stopping Neo4j/g)?.length, 1, run.stderr);
    assert.doesNotMatch(run.stderr, /loading \S+ into|• upload neo4j/, 'the load never started');
    assert.ok(await isUp(), 'Neo4j was started again');
    assert.equal((await bolt()).hash, now.hash, 'the database holds what it held');
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    test(`${signal} while Neo4j is stopped: Neo4j is started again, nothing valid is left`, async () => {
      const before = (await listed()).length;
      const proc = startQnb(['backup-neo4j'], { cwd, env });
      await untilNeo4jStopped(proc);
      proc.child.kill(signal);
      const run: QnbRun = await proc.done;
      assert.equal(run.code, 130, run.stderr);
      assert.ok(await isUp(), 'Neo4j runs again');
      assert.ok(!existsSync(marker()));
      assert.equal((await listed()).length, before, 'no new entry');
      assert.equal((await bolt()).hash, original.hash);
    });
  }

  test('a half-loaded notice left behind while Neo4j runs again does not turn off the --yes refusal', async () => {
    if ((await listed()).length === 0) assert.equal((await qnb(['backup-neo4j'])).code, 0);
    // an interrupted load's notice, but Neo4j was brought back (and written to) some other way
    const notice = await writeHalfLoadedNotice();
    try {
      assert.ok(await isUp());
      const live = await bolt();
      const refused = await qnb(['restore-neo4j', '--latest']);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, /would be overwritten — re-run with --yes/);
      assert.equal((await bolt()).hash, live.hash, 'nothing was loaded');
    } finally {
      await rm(notice, { force: true });
    }
  });

  test('a half-loaded notice, and Neo4j stopped (started, used and stopped by hand since): refused without --yes, nothing loaded', async () => {
    if ((await listed()).length === 0) assert.equal((await qnb(['backup-neo4j'])).code, 0);
    const live = await bolt();
    const notice = await writeHalfLoadedNotice();
    try {
      assert.equal((await n.neo4j(['stop'])).code, 0);
      const refused = await qnb(['restore-neo4j', '--latest']);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(
        refused.stderr,
        /Neo4j is stopped since a restore was interrupted while loading neo4j\/x\.dump .*, so qnb cannot read what database "neo4j" holds now — re-run with --yes/,
      );
      assert.ok(!(await isUp()), 'qnb did not start or load anything');
    } finally {
      await rm(notice, { force: true });
      if (!(await isUp())) assert.equal((await n.neo4j(['start'])).code, 0);
    }
    const deadline = Date.now() + 120_000;
    let back: Awaited<ReturnType<typeof bolt>> | undefined;
    while (!back && Date.now() < deadline) back = await bolt().catch(() => sleep(500).then(() => undefined));
    assert.equal(back?.hash, live.hash, 'the data is as it was');
  });

  test('the backups folder full just as the load starts: refused with nothing loaded, Neo4j running, data intact', async () => {
    if ((await listed()).length === 0) assert.equal((await qnb(['backup-neo4j'])).code, 0);
    const live = await bolt();
    const preload = fileURLToPath(new URL('../helpers/enospc-loading-marker.mjs', import.meta.url));
    const run = await qnb(['restore-neo4j', '--latest', '--yes'], { NODE_OPTIONS: `--import ${preload}` });
    assert.notEqual(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout + run.stderr,
      /cannot record the load in the backups folder \(ENOSPC\); nothing was loaded/,
    );
    assert.doesNotMatch(run.stdout + run.stderr, /so did putting/);
    assert.ok(await isUp(), 'Neo4j runs');
    assert.ok(!existsSync(marker()), 'no marker left');
    assert.equal((await bolt()).hash, live.hash);
  });

  test('Ctrl-C of the terminal (SIGINT to qnb’s process group) right after Neo4j is back: Neo4j keeps running', async () => {
    const proc = startQnb(['backup-neo4j'], { cwd, env, group: true });
    const deadline = Date.now() + 300_000;
    while (!/Neo4j is back/.test(proc.output().stderr) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.match(proc.output().stderr, /Neo4j is back/);
    process.kill(-proc.child.pid!, 'SIGINT');
    await proc.done;
    // a server that got the signal shuts down within seconds
    await new Promise((r) => setTimeout(r, 8000));
    assert.ok(await isUp(), 'Neo4j still runs');
    assert.equal((await bolt()).hash, original.hash);
  });

  /** SIGKILL for qnb and for its guardian (which would otherwise start Neo4j within seconds). */
  const killWithGuardian = async (proc: ReturnType<typeof startQnb>) => {
    const { readFileSync } = await import('node:fs');
    const m = JSON.parse(readFileSync(marker(), 'utf8')) as { guardian?: { pid: number } };
    assert.ok(m.guardian, 'qnb started a guardian');
    proc.child.kill('SIGKILL');
    process.kill(m.guardian.pid, 'SIGKILL');
    await proc.done;
  };

  test('SIGKILL of qnb and its guardian while Neo4j is stopped: the next qnb run starts it again', async () => {
    const proc = startQnb(['backup-neo4j'], { cwd, env });
    await untilNeo4jStopped(proc);
    await killWithGuardian(proc);
    assert.equal(await isUp(), false, 'Neo4j was left stopped by the killed qnb');
    assert.ok(existsSync(marker()), 'the killed qnb left its marker');
    const next = await qnb(['verify']);
    assert.match(next.stderr, /left stopped by an interrupted qnb run/);
    assert.ok(await isUp(), 'the next run started Neo4j');
    assert.ok(!existsSync(marker()));
    assert.equal((await bolt()).hash, original.hash);
  });

  test('SIGKILL of qnb and its guardian while Neo4j is stopped: `qnb doctor` starts it again and reports it', async () => {
    const proc = startQnb(['backup-neo4j'], { cwd, env });
    await untilNeo4jStopped(proc);
    await killWithGuardian(proc);
    assert.equal(await isUp(), false, 'Neo4j was left stopped by the killed qnb');
    const doctor = await qnb(['doctor', '--skip-qdrant']);
    assert.equal(doctor.code, 0, doctor.stdout + doctor.stderr);
    assert.match(doctor.stdout, /⚠ neo4j: left stopped by a crashed qnb — .*starting it again/);
    assert.match(doctor.stdout, /✔ neo4j: Bolt and credentials/);
    assert.ok(await isUp());
    assert.ok(!existsSync(marker()));
  });

  test('a marker left by a qnb killed before it stopped Neo4j: cleared, Neo4j not touched', async () => {
    const { writeFile } = await import('node:fs/promises');
    const { hostname } = await import('node:os');
    const dead = { pid: 2 ** 22 + 7, procStart: null, host: hostname(), since: new Date().toISOString() };
    await writeFile(
      marker(),
      JSON.stringify({ runtime: { kind: 'local', home: n.home }, wasRunning: true, ...dead }),
    );
    const { readFileSync } = await import('node:fs');
    const pid = () => readFileSync(join(n.home, 'run', 'neo4j.pid'), 'utf8').trim();
    const pidBefore = pid();
    const run = await qnb(['verify']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.doesNotMatch(run.stderr, /left stopped/);
    assert.ok(!existsSync(marker()), 'the stale marker is removed');
    assert.ok(await isUp());
    assert.equal(pid(), pidBefore, 'the same Neo4j process still runs');
  });

  test('bad input: wrong password, wrong Bolt URL, missing NEO4J_HOME — one line, non-zero, data intact', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { NEO4J_PASSWORD: 'wrong-password' },
        /authentication failed for user "neo4j" — check NEO4J_USER and NEO4J_PASSWORD/,
      ],
      [
        { NEO4J_URI: 'bolt://127.0.0.1:1' },
        /cannot reach the server over Bolt — is Neo4j running\? check NEO4J_URI/,
      ],
      [{ NEO4J_HOME: join(cwd, 'no-such-home') }, /NEO4J_HOME .*no-such-home: no bin\/neo4j-admin there/],
    ];
    for (const [extra, message] of cases) {
      const run = await qnb(['backup-neo4j'], extra);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, message);
      assert.ok(!hasStackTrace(run));
      assert.ok(!(run.stdout + run.stderr).includes('wrong-password'));
    }
    assert.ok(await isUp());
    assert.equal((await bolt()).hash, original.hash);
  });

  test('verify --deep: restore drill in a scratch Neo4j; the live database is not touched', async () => {
    const liveBefore = await bolt();
    const run = await qnb(['verify', '--deep']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /✅ neo4j\/neo4j-\d{8}-\d{6}\.dump \(sha256 \+ restore drill\)/);
    assert.match(run.stderr, /drill: neo4j-admin database check/);
    assert.ok(await isUp());
    assert.equal((await bolt()).hash, liveBefore.hash);
    const list = await qnb(['list']);
    assert.match(list.stdout, /verified by restore drill/);
    // a manifest that claims another node count: the drill names the difference (exit 4)
    const { readdir: rd, readFile: rf, writeFile: wf } = await import('node:fs/promises');
    const setsDir = join(cwd, 'backups', 'sets');
    for (const f of await rd(setsDir)) {
      const set = JSON.parse(await rf(join(setsDir, f), 'utf8'));
      const dump = set.artifacts.find((a: { kind: string }) => a.kind === 'neo4j-dump');
      if (!dump || set.reason !== 'backup') continue;
      dump.counts.nodes += 5;
      await wf(join(setsDir, f), JSON.stringify(set));
      const bad = await qnb(['verify', '--deep', set.id]);
      assert.equal(bad.code, 4, bad.stdout + bad.stderr);
      assert.match(bad.stdout, /restored \d+ nodes \/ \d+ relationships, manifest \d+ \/ \d+/);
      dump.counts.nodes -= 5;
      await wf(join(setsDir, f), JSON.stringify(set));
      break;
    }
    assert.equal((await bolt()).hash, liveBefore.hash);
  });

  test('verify --deep with no room for the scratch Neo4j: an error that names the disk; the backup stays valid', async (t) => {
    const small = await fullFolder(t);
    if (!small) return;
    const before = (await listed()).filter((b) => b.valid).map((b) => b.file);
    const run = await qnb(['verify', '--deep'], { TMPDIR: small });
    assert.notEqual(run.code, 0, run.stdout + run.stderr);
    assert.notEqual(run.code, 4, `not a verification failure: ${run.stdout}${run.stderr}`);
    assert.match(run.stdout + run.stderr, /no space left on device/i);
    const after = (await listed()).filter((b) => b.valid).map((b) => b.file);
    assert.deepEqual(after, before, 'no backup marked failed by a full scratch disk');
  });

  test('a dump from a newer Neo4j is refused before anything is touched', async () => {
    const { readdir: rd, readFile: rf, writeFile: wf } = await import('node:fs/promises');
    const setsDir = join(cwd, 'backups', 'sets');
    const backups = (await listed()).filter((b) => b.valid && b.reason === 'backup');
    const newest = backups[0]!;
    for (const f of await rd(setsDir)) {
      const text = await rf(join(setsDir, f), 'utf8');
      if (!text.includes(newest.file)) continue;
      const set = JSON.parse(text);
      const dump = set.artifacts.find((a: { file: string }) => a.file === newest.file);
      const real = dump.serverVersion;
      dump.serverVersion = '5.99.0';
      await wf(join(setsDir, f), JSON.stringify(set));
      const run = await qnb(['restore-neo4j', newest.file, '--yes']);
      dump.serverVersion = real;
      await wf(join(setsDir, f), JSON.stringify(set));
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.match(run.stderr, /comes from Neo4j 5\.99\.0, newer than the server \(5\.26\.\d+\)/);
      assert.ok(await isUp());
      return;
    }
    assert.fail('manifest of the newest dump not found');
  });

  test('restore-neo4j checks what it loaded: a sampled record or a count that differs from the manifest is exit 4, named', async () => {
    const { readdir: rd, readFile: rf, writeFile: wf } = await import('node:fs/promises');
    const setsDir = join(cwd, 'backups', 'sets');
    const newest = (await listed()).filter((b) => b.valid && b.reason === 'backup')[0]!;
    for (const f of await rd(setsDir)) {
      const text = await rf(join(setsDir, f), 'utf8');
      if (!text.includes(newest.file)) continue;
      const set = JSON.parse(text);
      const dump = set.artifacts.find((a: { file: string }) => a.file === newest.file);
      try {
        assert.ok(dump.sample?.length > 0, 'the dump recorded sampled records');
        dump.sample[0].hash = '0'.repeat(64);
        await wf(join(setsDir, f), JSON.stringify(set));
        const sampled = await qnb(['restore-neo4j', newest.file, '--yes']);
        assert.equal(sampled.code, 4, sampled.stdout + sampled.stderr);
        assert.match(sampled.stderr, /sampled records differ after restore: \S+/);
        assert.ok(await isUp());

        const counted = JSON.parse(text);
        counted.artifacts.find((a: { file: string }) => a.file === newest.file).counts.relationships += 3;
        await wf(join(setsDir, f), JSON.stringify(counted));
        const run = await qnb(['restore-neo4j', newest.file, '--yes']);
        assert.equal(run.code, 4, run.stdout + run.stderr);
        assert.match(run.stderr, /restored \d+ nodes \/ \d+ relationships, the manifest recorded \d+ \/ \d+/);
        assert.ok(await isUp());
      } finally {
        await wf(join(setsDir, f), text);
      }
      assert.equal((await bolt()).hash, original.hash, 'the dump itself was whole: the data is the backup');
      return;
    }
    assert.fail('manifest of the newest dump not found');
  });

  test('corrupt and truncated dumps: refused, or rolled back from the safety dump', async () => {
    const valid = (await listed()).filter((b) => b.valid && b.reason === 'backup');
    const file = join(cwd, 'backups', valid[0]!.file);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from('garbage!'), 0, 8, 200);
    await fh.close();
    const corrupt = await qnb(['restore-neo4j', file, '--yes']);
    assert.equal(corrupt.code, 4, corrupt.stderr);
    assert.match(corrupt.stderr, /file is corrupt .* nothing was restored/);
    assert.equal((await bolt()).hash, original.hash);
    // forced: neo4j-admin load fails, qnb loads the safety dump back
    const forced = await qnb(['restore-neo4j', file, '--yes', '--force']);
    assert.equal(forced.code, 1, forced.stdout + forced.stderr);
    assert.match(forced.stderr, /put back from the safety dump/);
    assert.ok(await isUp());
    assert.equal((await bolt()).hash, original.hash, 'the database keeps its data');
  });
});
