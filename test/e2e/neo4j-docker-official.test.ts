/**
 * Neo4j in Docker as the official neo4j:5 image runs it (issue 16), through the real qnb binary:
 * the test image's entrypoint prints its ownership warning on stdout, chowns /data as root,
 * declares VOLUME /data /logs and runs under tini; a container may run with --user.
 *   - a root-owned file under /data: the backup is still a real, loadable dump;
 *   - verify --deep leaves no Docker volume behind;
 *   - a restore whose load fails rolls back to the safety dump: Neo4j runs with the original graph;
 *   - a --user container with a bind-mounted data folder is backed up, restored, and starts again.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { runQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { emptyGraph, graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { useDockerNeo4j } from '../helpers/neo4j-docker-world.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { docker, dockerAvailable, startNeo4jContainer } from '../servers/neo4j/docker-harness.js';

const avail = await dockerAvailable();
if (!avail.ok && IN_CI) throw new Error(`Docker (for Neo4j in a container) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Docker missing — ${avail.hint}`;

async function dumpsIn(cwd: string): Promise<string[]> {
  const dir = join(cwd, 'backups', 'neo4j');
  return (await readdir(dir)).filter((f) => f.endsWith('.dump')).map((f) => join(dir, f));
}

async function magic(path: string): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    return buf.toString('latin1');
  } finally {
    await fh.close();
  }
}

const volumes = async () => (await docker(['volume', 'ls', '-q'])).stdout.split('\n').filter(Boolean).sort();

/**
 * Volumes that appeared since `before` and that no container uses: left behind. (The dockerd is
 * shared: another run's drill holds its volumes through its container until it removes both.)
 */
async function leftVolumes(before: string[]): Promise<string[]> {
  const left: string[] = [];
  for (const v of (await volumes()).filter((x) => !before.includes(x))) {
    const users = await docker(['ps', '-a', '-q', '--filter', `volume=${v}`]);
    if (users.code === 0 && !users.stdout.trim()) left.push(v);
  }
  return left;
}

describe('Neo4j in Docker as the official image runs it', { skip, timeout: 40 * 60_000 }, () => {
  const w = useDockerNeo4j('qnb-e2e-official');
  const suffix = randomBytes(3).toString('hex');

  test('a root-owned file under /data: the backup is a real dump, and verify --deep loads it', async () => {
    const touched = await docker(['exec', '--user', '0', w.c.name, 'touch', '/data/root-owned']);
    assert.equal(touched.code, 0, touched.stderr);
    const run = await w.qnb(['backup-neo4j']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const [dump] = await dumpsIn(w.cwd);
    assert.ok(dump, 'a dump was written');
    // the official entrypoint's warning must not be the start of the dump
    assert.equal(await magic(dump), 'DZV1');
    assert.ok(await w.c.isRunning());
    const before = await volumes();
    const deep = await w.qnb(['verify', '--deep']);
    assert.equal(deep.code, 0, deep.stdout + deep.stderr);
    assert.match(deep.stdout, /\(sha256 \+ restore drill\)/);
    assert.deepEqual(await leftVolumes(before), [], 'verify --deep leaves no Docker volume behind');
  });

  test('a restore whose load fails rolls back to the safety dump; Neo4j runs with the original graph', async () => {
    // a dump cut in half: its header is fine, so neo4j-admin load starts (and wipes) before it fails
    const [dump] = await dumpsIn(w.cwd);
    const half = join(w.cwd, 'neo4j-cut.dump');
    const fh = await open(dump!, 'r');
    const size = (await stat(dump!)).size;
    const buf = Buffer.alloc(Math.floor(size / 2));
    await fh.read(buf, 0, buf.length, 0);
    await fh.close();
    await writeFile(half, buf);
    const run = await w.qnb(['restore-neo4j', half, '--force', '--yes']);
    assert.notEqual(run.code, 0, run.stdout + run.stderr);
    assert.ok(!hasStackTrace(run), run.stderr);
    assert.match(run.stdout + run.stderr, /rolled back|put back from the safety dump/);
    assert.ok(await w.c.isRunning(), 'the container runs');
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, w.original.hash);
  });

  test('doctor: quick on a stopped container; warns when the live database is empty but its backup is not', async () => {
    await w.c.stop();
    const t0 = Date.now();
    const down = await w.qnb(['doctor', '--skip-qdrant']);
    const took = Date.now() - t0;
    await w.c.start();
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.match(down.stdout, /✘ neo4j: Bolt and credentials — .*cannot reach the server over Bolt/);
    // the driver's retry backoff made this 30+ s
    assert.ok(took < 20_000, `doctor took ${took} ms on a stopped container`);
    await emptyGraph(w.c.boltUrl, w.password);
    const empty = await w.qnb(['doctor', '--skip-qdrant']);
    assert.match(
      empty.stdout,
      /⚠ neo4j: live database — database "neo4j" is empty, but its newest backup neo4j\/neo4j-\S+\.dump holds \d+ nodes/,
    );
  });

  test('a --user container with a bind-mounted data folder: backed up, restored, and it starts again', async () => {
    const dataDir = join(w.cwd, 'user-data');
    await mkdir(dataDir);
    await chown(dataDir, 1000, 1000);
    const u = await startNeo4jContainer({
      name: `qnb-e2e-official-user-${suffix}`,
      volume: `unused-${suffix}`,
      dataDir,
      user: '1000:1000',
      password: w.password,
    });
    try {
      await seedTypedGraph(u.boltUrl, w.password, 20);
      const mine = await graphHash(u.boltUrl, w.password);
      const userEnv = { NEO4J_CONTAINER: u.name, NEO4J_URI: u.boltUrl };
      const home = join(w.cwd, 'user-run');
      await mkdir(home);
      const q = (args: string[]) =>
        runQnb(args, { cwd: home, env: { ...w.env, ...userEnv }, timeoutMs: 600_000 });
      const backup = await q(['backup-neo4j']);
      assert.equal(backup.code, 0, backup.stdout + backup.stderr);
      assert.ok(await u.isRunning(), 'it started again after the backup');
      await wreckGraph(u.boltUrl, w.password);
      const restore = await q(['restore-neo4j', '--latest', '--yes']);
      assert.equal(restore.code, 0, restore.stdout + restore.stderr);
      // one outage: the safety dump and the load share the container's stop
      assert.match(restore.stdout, /Downtime: .+ \(safety dump and load, one stop\)/);
      assert.equal(restore.stderr.match(/stopping Neo4j/g)?.length, 1, restore.stderr);
      assert.ok(await u.isRunning(), 'it started again after the restore');
      assert.equal((await graphHash(u.boltUrl, w.password)).hash, mine.hash);
      // nothing under the data folder was handed to another user
      const owners = await docker([
        'run',
        '--rm',
        '-v',
        `${dataDir}:/d`,
        '--entrypoint',
        'find',
        u.image,
        '/d',
        '!',
        '-uid',
        '1000',
      ]);
      assert.equal(owners.stdout.trim(), '', 'every file is still owned by uid 1000');
    } finally {
      await u.remove();
    }
  });
});
