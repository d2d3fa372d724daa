/**
 * Real Qdrant behaviours qnb must handle (issue 11), through the CLI against the Qdrant test
 * server, which models each one (test/servers/qdrant-server-real.test.ts): restore over an
 * existing collection gives back the backed-up settings, strict mode, alias targets, …
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { createQnbWorld, hasStackTrace, type QnbWorld } from '../helpers/qnb-world.js';
import { call, seedCustomSharded } from '../servers/qdrant/testing.js';

type Json = Record<string, unknown>;

async function config(world: QnbWorld, name: string): Promise<Json> {
  const r = await call(world.server, 'GET', `/collections/${name}`);
  assert.equal(r.status, 200, r.text);
  return (r.json.result as Json).config as Json;
}

async function createWithPoints(world: QnbWorld, name: string, body: Json, ids: number[]): Promise<void> {
  assert.equal((await call(world.server, 'PUT', `/collections/${name}`, body)).status, 200);
  const points = ids.map((id) => ({ id, vector: [id, 1], payload: { id } }));
  const up = await call(world.server, 'PUT', `/collections/${name}/points?wait=true`, { points });
  assert.equal(up.status, 200, up.text);
}

const ids = (world: QnbWorld, name: string) => world.server.points(name).map((p) => p.id);

describe('restore over an existing collection', () => {
  test('gives back the backed-up settings, not the overwritten collection’s, and keeps its aliases', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    const vectors = { size: 2, distance: 'Dot' };
    await createWithPoints(
      world,
      'tuned',
      { vectors, hnsw_config: { m: 32 }, on_disk_payload: true },
      [1, 2, 3],
    );
    const backup = await world.qnb(['backup-qdrant', '--collection', 'tuned']);
    assert.equal(backup.code, 0, backup.stderr);
    await call(world.server, 'DELETE', '/collections/tuned');
    await createWithPoints(world, 'tuned', { vectors, hnsw_config: { m: 4 }, on_disk_payload: false }, [7]);
    await call(world.server, 'POST', '/collections/aliases', {
      actions: [{ create_alias: { alias_name: 'tuned_live', collection_name: 'tuned' } }],
    });

    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tuned', '--yes']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /Settings: as backed up ✔/);
    const now = await config(world, 'tuned');
    assert.equal((now.hnsw_config as Json).m, 32, 'HNSW m as backed up');
    assert.equal((now.params as Json).on_disk_payload, true, 'on_disk_payload as backed up');
    assert.deepEqual(ids(world, 'tuned'), [1, 2, 3]);
    assert.equal(world.server.aliases().tuned_live, 'tuned', 'the alias of the overwritten collection stays');
  });
  test('an upload that fails after the drop says so, names the safety backup, and its hint brings it back', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    const before = ids(world, 'papers');
    const backup = await world.qnb(['backup-qdrant', '--collection', 'papers']);
    assert.equal(backup.code, 0, backup.stderr);
    world.server.inject({ op: 'upload-snapshot', fault: { kind: 'disk-full' } });

    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers', '--yes']);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /the previous "papers" was dropped before the upload/);
    const hint = /safety backup is set (\S+): (qnb restore-qdrant --latest --collection papers)/.exec(
      run.stderr,
    );
    assert.ok(hint, run.stderr);
    assert.equal(hasStackTrace(run), false);
    assert.equal((await call(world.server, 'GET', '/collections/papers')).status, 404, 'the drop happened');

    const again = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers', '--yes']);
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    assert.deepEqual(ids(world, 'papers'), before);
  });
});

describe('strict mode', () => {
  test('a collection that forbids exact counts backs up and restores, counted exactly by scrolling', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    const strict = { enabled: true, search_allow_exact: false, max_query_limit: 2, max_timeout: 120 };
    await createWithPoints(
      world,
      'guarded',
      { vectors: { size: 2, distance: 'Dot' }, strict_mode_config: strict },
      [1, 2, 3, 4, 5],
    );
    const backup = await world.qnb(['backup-qdrant', '--collection', 'guarded', '--json']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    const artifact = (JSON.parse(backup.stdout) as { artifacts: { counts: Json }[] }).artifacts[0]!;
    assert.deepEqual(artifact.counts, { points: 5 });

    const restore = await world.qnb([
      'restore-qdrant',
      '--latest',
      '--collection',
      'guarded',
      '--as',
      'copy',
    ]);
    assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.match(restore.stdout, /Points: 5 \(manifest: 5, counted by scrolling/);
    assert.deepEqual(ids(world, 'copy'), [1, 2, 3, 4, 5]);
    assert.equal(((await config(world, 'copy')).strict_mode_config as Json).search_allow_exact, false);
    // every count sends a timeout within strict mode's max_timeout
    const counts = world.server.requests.filter((r) => /\/points\/(count|scroll)$/.test(r.path));
    assert.ok(counts.length > 0);
    for (const r of counts) assert.equal(r.query.timeout, '120', `${r.path} sends timeout`);
  });

  test('backup-all is complete with a strict collection beside the others', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    await createWithPoints(
      world,
      'guarded',
      {
        vectors: { size: 2, distance: 'Dot' },
        strict_mode_config: { enabled: true, search_allow_exact: false },
      },
      [1, 2],
    );
    const run = await world.qnb(['backup-qdrant']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.ok(!hasStackTrace(run));
  });
});

describe('restore --as into an alias name', () => {
  test('is refused before anything is uploaded', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'chunks'])).code, 0);
    const run = await world.qnb([
      'restore-qdrant',
      '--latest',
      '--collection',
      'chunks',
      '--as',
      'library',
      '--yes',
    ]);
    assert.equal(run.code, 2, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /"library" is an alias of collection "papers"/);
    assert.ok(!hasStackTrace(run));
    assert.equal(
      world.server.requests.filter((r) => r.path.endsWith('/snapshots/upload')).length,
      0,
      'nothing uploaded',
    );
    const folders = await readdir(world.server.snapshotsDir);
    assert.ok(!folders.includes('library'), 'no upload folder under the alias name');
    assert.equal(world.server.points('papers').length, 3, 'papers untouched');
  });
});

describe('read-only API key', () => {
  test('doctor tells a read-only key from a manage key; a refused upload is an authorization error', async (t) => {
    const world = await createQnbWorld(t, {
      apiKey: 'manage-key',
      readOnlyApiKey: 'read-key',
      papers: 3,
      chunks: 3,
    });
    const manage = await world.qnb(['doctor', '--skip-neo4j']);
    assert.match(manage.stdout, /✔ qdrant: API key access — manage: backup, restore/);
    const readOnly = await world.qnb(['doctor', '--skip-neo4j'], { QDRANT_API_KEY: 'read-key' });
    assert.notEqual(readOnly.code, 0, readOnly.stdout);
    assert.match(
      readOnly.stdout,
      /✘ qdrant: API key access — read-only key \(no global manage access\): listing and downloading existing snapshots only.* — fix: set QDRANT_API_KEY to the manage key/,
    );

    world.server.setSnapshotPadding('chunks', 3 * 1024 * 1024);
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'chunks'])).code, 0);
    const restore = await world.qnb(
      ['restore-qdrant', '--latest', '--collection', 'chunks', '--as', 'chunks_copy'],
      { QDRANT_API_KEY: 'read-key' },
    );
    assert.notEqual(restore.code, 0);
    assert.match(restore.stderr, /refused, the API key is read-only/);
    assert.doesNotMatch(restore.stderr, /cannot reach the server/);
    assert.ok(!world.server.collections().includes('chunks_copy'));
  });
});

describe('snapshots stored in S3 by Qdrant', () => {
  test('a snapshot found after a lost connection is accepted without a checksum; the leftover upload is reported', async (t) => {
    const world = await createQnbWorld(t, { papers: 4, chunks: 3, server: { snapshotsStorage: 's3' } });
    world.server.inject({ op: 'create-snapshot', fault: { kind: 'drop-after-commit' } });
    const backup = await world.qnb(['backup-qdrant', '--collection', 'papers', '--json']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    assert.match(backup.stderr, /without a checksum/);
    const artifact = (JSON.parse(backup.stdout) as { artifacts: Json[] }).artifacts[0]!;
    assert.equal(artifact.checksumSource, 'self');
    assert.equal(artifact.serverChecksum, null);
    assert.equal((await world.qnb(['verify'])).code, 0);

    await call(world.server, 'DELETE', '/collections/papers');
    const restore = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers']);
    assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.equal(world.server.points('papers').length, 4);
    assert.match(restore.stderr, /answered 404 to deleting the uploaded copy qnb-restore-\w+\.snapshot/);
  });
});

describe('interrupted wait=true calls', () => {
  test('a proxy 504 on snapshot create: qnb finds the snapshot Qdrant made anyway and leaves none behind', async (t) => {
    const world = await createQnbWorld(t, { papers: 4, chunks: 3 });
    world.server.inject({ op: 'create-snapshot', fault: { kind: 'proxy-gave-up', status: 504 } });
    const run = await world.qnb(['backup-qdrant', '--collection', 'papers']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stderr, /a proxy gave up .*504 Gateway Time-out/);
    const creates = world.server.requests.filter(
      (r) => r.method === 'POST' && r.path.endsWith('/papers/snapshots'),
    );
    assert.equal(creates.length, 1, 'no second snapshot');
    assert.deepEqual(
      await readdir(join(world.server.snapshotsDir, 'papers')),
      [],
      'no snapshot left on the server',
    );
  });

  test('a proxy 502 on upload: qnb waits for the background recovery, then cleans up and verifies', async (t) => {
    const world = await createQnbWorld(t, { papers: 4, chunks: 3, server: { recoveryDelayMs: 1500 } });
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'papers'])).code, 0);
    world.server.inject({ op: 'upload-snapshot', fault: { kind: 'proxy-gave-up', status: 502 } });
    const run = await world.qnb([
      'restore-qdrant',
      '--latest',
      '--collection',
      'papers',
      '--as',
      'papers_copy',
    ]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(
      run.stderr,
      /the answer to the upload was lost .*502 Bad Gateway.*waits for "papers_copy" to settle/,
    );
    assert.equal(world.server.points('papers_copy').length, 4);
    assert.deepEqual(
      await readdir(join(world.server.snapshotsDir, 'papers_copy')),
      [],
      'uploaded copy removed',
    );
  });
});

describe('idle keep-alive connections closed by Qdrant', () => {
  test('a read that crosses the close on a reused connection is sent once more', async (t) => {
    const world = await createQnbWorld(t, { papers: 4, chunks: 3 });
    world.server.inject({ op: 'list-snapshots', fault: { kind: 'keep-alive-close' } });
    const run = await world.qnb(['backup-qdrant', '--collection', 'papers']);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const lists = world.server.requests.filter(
      (r) => r.method === 'GET' && r.path === '/collections/papers/snapshots',
    );
    assert.ok(lists.length >= 2, 'the listing was sent again');
    assert.equal(lists[0]!.status, 0, 'the first one got no answer');
  });
});

describe('full-storage snapshot', () => {
  test('restore prints the exact start-up flags Qdrant needs', async (t) => {
    const world = await createQnbWorld(t, { papers: 2, chunks: 2 });
    assert.equal((await world.qnb(['backup-qdrant', '--full'])).code, 0);
    const full = (await world.listed()).find((b) => b.file.includes('full-snapshot'));
    assert.ok(full, 'a full snapshot is listed');
    const run = await world.qnb(['restore-qdrant', full.file]);
    assert.notEqual(run.code, 0);
    const path = join(world.backupDir, full.file);
    assert.ok(
      run.stderr.includes(`qdrant --storage-snapshot ${path} --force-snapshot`),
      `flags with the absolute path in:\n${run.stderr}`,
    );
  });
});

describe('deferred points (prevent_unoptimized)', () => {
  test('backup and restore wait for the optimizer instead of recording and checking a count that hides points', async (t) => {
    const world = await createQnbWorld(t, { papers: 2, chunks: 2, server: { optimizeDelayMs: 1500 } });
    await createWithPoints(
      world,
      'lazy',
      {
        vectors: { size: 2, distance: 'Dot' },
        optimizers_config: { prevent_unoptimized: true, indexing_threshold: 2 },
      },
      [1, 2, 3, 4, 5, 6],
    );
    const backup = await world.qnb(['backup-qdrant', '--collection', 'lazy', '--json']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    const artifact = (JSON.parse(backup.stdout) as { artifacts: { counts: Json }[] }).artifacts[0]!;
    assert.deepEqual(artifact.counts, { points: 6 }, 'the snapshot holds 6 points');

    const restore = await world.qnb([
      'restore-qdrant',
      '--latest',
      '--collection',
      'lazy',
      '--as',
      'lazy_copy',
    ]);
    assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.match(restore.stdout, /Points: 6 \(manifest: 6\)/);
  });
});

describe('Qdrant versions', () => {
  test('a snapshot is not restored into a server it cannot go to (older, or two minors newer): refused before any change', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'papers'])).code, 0);
    const { startQdrantTestServer } = await import('../servers/qdrant/index.js');
    for (const [version, why] of [
      ['1.18.3', /snapshot from Qdrant 1\.19\.0 is newer than the server \(1\.18\.3\)/],
      ['1.21.0', /can be restored only into 1\.19\.x or 1\.20\.x, not 1\.21\.0/],
    ] as const) {
      const other = await startQdrantTestServer({ version });
      t.after(() => other.stop());
      const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers'], {
        QDRANT_URL: other.url,
      });
      assert.equal(run.code, 2, run.stdout + run.stderr);
      assert.match(run.stderr, why);
      assert.equal(run.stderr.split('\n').filter((l) => l.startsWith('✘')).length, 1, run.stderr);
      assert.deepEqual(
        other.requests.filter((r) => r.method !== 'GET'),
        [],
        'nothing sent that changes the server',
      );
      assert.deepEqual(other.collections(), []);
    }
  });
});

describe('custom sharding on a single node', () => {
  test('restored under a new name it would come back empty (Qdrant #10135): refused, nothing created; over itself it restores', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    await seedCustomSharded(world.server, 'tenants', [['eu', [1, 2, 3]]]);
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'tenants'])).code, 0);
    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tenants', '--as', 'copy']);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /"tenants" uses custom sharding; restored as "copy" it would come back empty/);
    assert.ok(!world.server.collections().includes('copy'), 'nothing created');
    const back = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tenants', '--yes']);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.deepEqual(ids(world, 'tenants'), [1, 2, 3]);
  });
});

describe('custom sharding: shard ids', () => {
  test('over a collection whose shard keys hold other shard ids: refused before anything changes (Qdrant restores by shard id); with the same ids it restores', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    const c = (method: string, path: string, body?: unknown) => call(world.server, method, path, body);
    const keyed = () =>
      world.server
        .points('tenants')
        .map((p) => `${String(p.id)}:${String(p.shard_key)}`)
        .sort();
    await seedCustomSharded(world.server, 'tenants', [
      ['eu', [1, 2]],
      ['us', [3]],
    ]);
    assert.equal((await world.qnb(['backup-qdrant', '--collection', 'tenants'])).code, 0);
    const backedUp = keyed();
    assert.deepEqual(backedUp, ['1:eu', '2:eu', '3:us']);

    // the collection made again with its keys in the other order: eu is shard 2 now
    await c('DELETE', '/collections/tenants');
    await seedCustomSharded(world.server, 'tenants', [
      ['us', [9]],
      ['eu', []],
    ]);
    const before = world.server.requests.length;
    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tenants', '--yes']);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(
      run.stderr,
      /"tenants" has shard keys us \(shard 1\), eu \(shard 2\), the backup .* has eu \(shard 1\), us \(shard 2\); Qdrant restores shard by shard id/,
    );
    assert.match(run.stderr, /in the backup's order \(eu, us\)/);
    assert.deepEqual(
      world.server.requests.slice(before).filter((r) => r.method !== 'GET'),
      [],
      'no safety snapshot, no upload',
    );
    assert.deepEqual(keyed(), ['9:us'], 'the collection is as it was');

    // made in the backup's order: restored, every point under its own key
    await c('DELETE', '/collections/tenants');
    await seedCustomSharded(world.server, 'tenants', [
      ['eu', []],
      ['us', []],
    ]);
    const back = await world.qnb(['restore-qdrant', '--latest', '--collection', 'tenants', '--yes']);
    assert.equal(back.code, 0, back.stdout + back.stderr);
    assert.deepEqual(keyed(), backedUp);
  });
});
