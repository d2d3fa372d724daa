/**
 * `qnb backup-all` through the CLI: one set, seed output, retention only after a complete set,
 * `--keep-last`, `--no-cleanup`, and a partial set (exit 3) when a store fails; `restore` of a set
 * that `list` marks NOT VALID; a password in QDRANT_URL kept out of manifests.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createQnbWorld } from '../helpers/qnb-world.js';

test('backup-all: retention by --keep-last, --no-cleanup, partial sets keep everything', async (t) => {
  const world = await createQnbWorld(t);
  for (let i = 0; i < 3; i++) {
    const r = await world.qnb(['backup-all', '--skip-neo4j', '--keep-last', '2']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /=== Backup Results ===\n\n✅ Qdrant \(chunks\)/);
    assert.match(r.stdout, /Retention: removed \d+ old backup\(s\)/);
    await new Promise((res) => setTimeout(res, 1100)); // distinct file names per second
  }
  let listed = await world.listed();
  assert.equal(listed.filter((b) => b.name === 'papers').length, 2);
  const kept = await world.qnb(['backup-all', '--skip-neo4j', '--keep-last', '2', '--no-cleanup']);
  assert.equal(kept.code, 0);
  listed = await world.listed();
  assert.equal(listed.filter((b) => b.name === 'papers').length, 3, '--no-cleanup kept all');

  // Neo4j not configured: Qdrant is backed up, the set is partial, retention does not run
  const partial = await world.qnb(['backup-all', '--keep-last', '1']);
  assert.equal(partial.code, 3, partial.stdout + partial.stderr);
  assert.match(
    partial.stdout,
    /❌ Neo4j \(neo4j\)\n {3}Error: neo4j: neither NEO4J_CONTAINER nor NEO4J_HOME is set — set NEO4J_CONTAINER/,
  );
  assert.match(partial.stdout, /Retention skipped: the backup set is partial/);
  listed = await world.listed();
  assert.equal(listed.filter((b) => b.name === 'papers').length, 4, 'nothing pruned after a partial set');

  // Qdrant down: Neo4j would still be tried; here both fail → failed (exit 1)
  await world.server.stop();
  const failed = await world.qnb(['backup-all']);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /❌ Qdrant \(qdrant\)\n {3}Error: .*cannot reach the server/);
});

test('a manual backup-all pings start and success, and fail on failure', async (t) => {
  const { createServer } = await import('node:http');
  const hits: string[] = [];
  const receiver = createServer((req, res) => {
    hits.push(req.url ?? '');
    res.end('ok');
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => receiver.close(r)));
  const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/ping/abc`;
  const world = await createQnbWorld(t);
  const ok = await world.qnb(['backup-all', '--skip-neo4j'], { QNB_PING_URL: url });
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.deepEqual(hits, ['/ping/abc/start', '/ping/abc']);
  world.server.inject({
    op: 'create-snapshot',
    fault: { kind: 'status', status: 500 },
    times: Number.POSITIVE_INFINITY,
  });
  const bad = await world.qnb(['backup-all', '--skip-neo4j'], { QNB_PING_URL: url });
  assert.notEqual(bad.code, 0);
  assert.deepEqual(hits.slice(2), ['/ping/abc/start', '/ping/abc/fail']);
});

test('restore --latest passes over a set that list marks NOT VALID; naming it is refused without --force', async (t) => {
  const world = await createQnbWorld(t, { papers: 6, chunks: 4 });
  const backup = async () => {
    const r = await world.qnb(['backup-all', '--skip-neo4j', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    return (JSON.parse(r.stdout) as { setId: string }).setId;
  };
  const older = await backup();
  const atOlder = world.server.points('papers');
  await world.client.upsert('papers', {
    wait: true,
    points: [{ id: 999, vector: { dense: [1, 0, 0, 0] }, payload: { late: true } }],
  });
  await new Promise((res) => setTimeout(res, 1100)); // distinct file names
  const newer = await backup();
  const atNewer = world.server.points('papers');
  assert.equal(atNewer.length, atOlder.length + 1);

  // what a failed `verify --deep` records on the newest set's papers artifact
  const manifestFile = join(world.backupDir, 'sets', `${newer}.json`);
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as {
    artifacts: { name: string; file: string; verification?: unknown }[];
  };
  const papers = manifest.artifacts.find((a) => a.name === 'papers')!;
  papers.verification = {
    at: new Date().toISOString(),
    ok: false,
    deep: true,
    detail: 'drill: 6 points, manifest 7',
  };
  await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  const listed = await world.listed();
  assert.equal(listed.find((b) => b.file === papers.file)?.valid, false, 'list marks it NOT VALID');

  await world.client.deleteCollection('papers');
  const latest = await world.qnb(['restore', '--latest', '--yes']);
  assert.equal(latest.code, 0, latest.stdout + latest.stderr);
  assert.ok(latest.stdout.includes(older) && !latest.stdout.includes(newer), latest.stdout);
  assert.deepEqual(world.server.points('papers'), atOlder, 'the older, valid set came back');

  const named = await world.qnb(['restore', newer, '--yes']);
  assert.equal(named.code, 2, named.stdout + named.stderr);
  assert.equal(named.stderr.trim().split('\n').length, 1, named.stderr);
  assert.match(
    named.stderr,
    new RegExp(
      `backup set ${newer} is not valid: qdrant/papers-\\S+ \\(failed verification: drill: 6 points, manifest 7\\); nothing was restored`,
    ),
  );
  assert.deepEqual(world.server.points('papers'), atOlder, 'nothing touched');

  const forced = await world.qnb(['restore', newer, '--yes', '--force']);
  assert.equal(forced.code, 0, forced.stdout + forced.stderr);
  assert.match(
    forced.stdout + forced.stderr,
    /is not valid \(failed verification: .*\); restoring it anyway \(--force\)/,
  );
  assert.deepEqual(world.server.points('papers'), atNewer);
});

test('a password in QDRANT_URL (user info, sent as Basic auth) stays out of manifests, copies and output', async (t) => {
  const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
  const secret = 'url-pw-7f3a9c21';
  const env = { QDRANT_URL: world.server.url.replace('http://', `http://backup:${secret}@`) };
  const backup = await world.qnb(['backup-all', '--skip-neo4j'], env);
  assert.equal(backup.code, 0, backup.stdout + backup.stderr);
  const basic = `Basic ${Buffer.from(`backup:${secret}`).toString('base64')}`;
  const download = world.server.requests.find((r) => r.method === 'GET' && r.path.endsWith('.snapshot'));
  assert.equal(download?.headers.authorization, basic, 'the URL as given, its user info as Basic auth');
  const usb = join(world.cwd, 'usb');
  await mkdir(usb);
  const copy = await world.qnb(['copy', '--to', usb], env);
  assert.equal(copy.code, 0, copy.stdout + copy.stderr);
  const manifests = async (dir: string) =>
    Promise.all((await readdir(join(dir, 'sets'))).map((f) => readFile(join(dir, 'sets', f), 'utf8')));
  const written = [...(await manifests(world.backupDir)), ...(await manifests(usb))];
  assert.ok(written.length >= 2);
  for (const text of [backup.stdout, backup.stderr, copy.stdout, copy.stderr, ...written])
    assert.ok(!text.includes(secret), 'the password is nowhere');
  const set = JSON.parse(written[0]!) as { artifacts: { details?: { serverUrl?: string } }[] };
  assert.ok(set.artifacts.every((a) => a.details?.serverUrl === world.server.url));
});
