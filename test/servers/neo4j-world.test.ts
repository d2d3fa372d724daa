/**
 * The real Neo4j test world works end to end: a local tarball-like install (bin/neo4j,
 * bin/neo4j-admin) and the qnb-test/neo4j Docker image, each through start → data → clean stop →
 * neo4j-admin dump → load → start → same counts. Skips locally with a hint when Java/Maven (or
 * root/Docker) are missing; fails in CI. See docs/neo4j-testing.md.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { requireComponent } from '../helpers/components.js';
import { tempDir } from '../helpers/tmp.js';
import {
  adminOnVolume,
  dockerAvailable,
  ensureDocker,
  ensureNeo4jImage,
  removeVolume,
  startNeo4jContainer,
} from './neo4j/docker-harness.js';
import { countGraph, createNeo4jHome, ensureNeo4jDist, neo4jAvailable, seedGraph } from './neo4j/harness.js';

const DUMP_MAGIC = 'DZV1'; // zstd dump format of Neo4j 5.x ('DGV1' when zstd-jni cannot load)

async function magicOf(file: string): Promise<string> {
  const buf = await readFile(file);
  return buf.subarray(0, 4).toString('latin1');
}

function log(msg: string): void {
  console.log(`# ${msg}`);
}

test('local Neo4j home: start, write, stop, dump, load, start, counts match', {
  timeout: 15 * 60_000,
}, async (t) => {
  const avail = await neo4jAvailable();
  if (!requireComponent(t, 'Neo4j (Java + Maven)', avail.ok, avail.ok ? '' : avail.hint)) return;

  const dist = await ensureNeo4jDist();
  assert.match(dist.version, /^5\.26\.\d+$/);

  const password = `pw-${randomBytes(6).toString('hex')}`;
  const n = await createNeo4jHome({ password });
  t.after(() => n.remove());
  const work = await tempDir(t, 'qnb-neo4j-dumps-');

  const started = await n.start();
  log(`start (first, creates system + neo4j): ${started.ms} ms`);
  assert.ok(n.isRunning());
  await seedGraph(n.boltUrl, n.user, n.password, 200);
  const before = await countGraph(n.boltUrl, n.user, n.password);
  assert.deepEqual(before, { nodes: 207, relationships: 399 });

  // Community: dump needs the whole server stopped.
  const running = await n.admin(['database', 'dump', 'neo4j', `--to-path=${work}`]);
  assert.notEqual(running.code, 0, 'dump of a running database must fail');

  const stopped = await n.stop();
  log(`stop: ${stopped.ms} ms`);
  assert.equal(stopped.forced, false);
  assert.equal(n.isRunning(), false);
  const status = await n.neo4j(['status']);
  assert.equal(status.code, 3, `bin/neo4j status of a stopped server exits 3: ${status.stdout}`);

  const dump = await n.admin(['database', 'dump', 'neo4j', `--to-path=${work}`]);
  assert.equal(dump.code, 0, dump.stderr);
  log(`dump --to-path: ${dump.ms} ms`);
  assert.equal(await magicOf(join(work, 'neo4j.dump')), DUMP_MAGIC);

  const streamed = join(work, 'streamed.dump');
  const dumpStdout = await n.admin(['database', 'dump', 'neo4j', '--to-stdout'], { stdoutFile: streamed });
  assert.equal(dumpStdout.code, 0, dumpStdout.stderr);
  log(`dump --to-stdout: ${dumpStdout.ms} ms, ${(await stat(streamed)).size} bytes`);
  assert.equal(await magicOf(streamed), DUMP_MAGIC);

  const check = await n.admin(['database', 'check', 'neo4j']);
  assert.equal(check.code, 0, check.stderr);
  log(`check: ${check.ms} ms`);

  // Change the data, then load the dump back over it (a file of any name goes through stdin).
  await n.start();
  const driverUrl = n.boltUrl;
  await seedGraph(driverUrl, n.user, n.password, 10);
  assert.notDeepEqual(await countGraph(driverUrl, n.user, n.password), before);
  await n.stop();

  const exists = await n.admin(['database', 'load', 'neo4j', '--from-stdin'], { stdinFile: streamed });
  assert.notEqual(exists.code, 0, 'load over an existing database needs --overwrite-destination=true');

  const load = await n.admin(['database', 'load', 'neo4j', '--from-stdin', '--overwrite-destination=true'], {
    stdinFile: streamed,
  });
  assert.equal(load.code, 0, load.stderr);
  assert.match(`${load.stdout}${load.stderr}`, /Done: \d+ files, [\d.,]+\s*[KMGi]*B processed/);
  log(`load --from-stdin: ${load.ms} ms`);

  const restarted = await n.start();
  log(`start (after load): ${restarted.ms} ms`);
  assert.deepEqual(await countGraph(n.boltUrl, n.user, n.password), before);
  await n.stop();
});

test('Neo4j in Docker: stop, dump in a throwaway container, start, load into a new volume', {
  timeout: 30 * 60_000,
}, async (t) => {
  const avail = await dockerAvailable();
  if (!requireComponent(t, 'Docker Engine for Neo4j', avail.ok, avail.ok ? '' : avail.hint)) return;

  await ensureDocker();
  const t0 = Date.now();
  const image = await ensureNeo4jImage();
  log(`image ${image} ready in ${Date.now() - t0} ms`);

  const id = randomBytes(4).toString('hex');
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const work = await tempDir(t, 'qnb-neo4j-docker-');

  const t1 = Date.now();
  // Cleanups run last-in first-out (a volume can only go after its containers).
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const c of cleanups.reverse()) await c().catch((e) => log(`cleanup: ${String(e)}`));
  });
  const server = await startNeo4jContainer({ name: `qnb-neo4j-${id}`, volume: `qnb-neo4j-${id}`, password });
  cleanups.push(() => server.remove({ volume: true }));
  log(`docker run → Bolt: ${Date.now() - t1} ms`);

  await seedGraph(server.boltUrl, server.user, server.password, 150);
  const before = await countGraph(server.boltUrl, server.user, server.password);
  assert.deepEqual(before, { nodes: 157, relationships: 299 });

  const stopped = await server.stop({ timeoutSec: 120 });
  log(`docker stop -t 120: ${stopped.ms} ms`);
  assert.equal(stopped.exitCode, 0, `clean shutdown exits 0:\n${await server.logs()}`);
  assert.match(await server.logs(), /Stopped\./);

  const file = join(work, 'neo4j-backup.dump');
  const dump = await server.admin(['database', 'dump', 'neo4j', '--to-stdout'], { stdoutFile: file });
  assert.equal(dump.code, 0, dump.stderr);
  assert.equal(await magicOf(file), DUMP_MAGIC);
  log(`dump --to-stdout in a throwaway container: ${dump.ms} ms, ${(await stat(file)).size} bytes`);

  const restarted = await server.start();
  log(`docker start → Bolt: ${restarted.ms} ms`);
  assert.deepEqual(await countGraph(server.boltUrl, server.user, server.password), before);

  // Load into a second volume and serve it from a second container.
  const volume2 = `qnb-neo4j-${id}-restore`;
  cleanups.push(() => removeVolume(volume2));
  const load = await adminOnVolume(
    volume2,
    ['database', 'load', 'neo4j', '--from-stdin', '--overwrite-destination=true'],
    {
      stdinFile: file,
    },
  );
  assert.equal(load.code, 0, load.stderr);
  log(`load --from-stdin into a new volume: ${load.ms} ms`);

  const password2 = `pw-${randomBytes(6).toString('hex')}`;
  const restored = await startNeo4jContainer({
    name: `qnb-neo4j-${id}-restore`,
    volume: volume2,
    password: password2,
  });
  cleanups.push(() => restored.remove());
  // Users live in `system`, which is not in the dump: the new container's NEO4J_AUTH applies.
  assert.deepEqual(await countGraph(restored.boltUrl, restored.user, password2), before);
  await restored.stop();
  await server.stop();
});
