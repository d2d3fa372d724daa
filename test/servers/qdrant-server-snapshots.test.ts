/**
 * Snapshot tests of the Qdrant test server: roundtrip, upload/recover rules, downloads.
 * Every response is validated against Qdrant's OpenAPI spec (see ValidatedServers).
 */
import assert from 'node:assert/strict';
import { existsSync, openAsBlob } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { call, downloadSnapshot, raw, seed, sha256, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'qdrant-server-test-'));
});

after(async () => {
  await servers.stopAll();
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
  assert.ok(servers.checked.length > 30, `validated ${servers.checked.length} responses`);
});

describe('snapshot roundtrip over HTTP', () => {
  test('create → download → delete collection → upload multipart → identical points', async () => {
    const server = await servers.start();
    await seed(server, 'kb');
    const before = server.points('kb');
    const created = await call(server, 'POST', '/collections/kb/snapshots?wait=true');
    assert.equal(created.status, 200);
    const desc = created.json.result as { name: string; size: number; checksum: string };
    const bytes = await downloadSnapshot(server, `/collections/kb/snapshots/${desc.name}`);
    assert.equal(bytes.length, desc.size);
    assert.equal(sha256(bytes), desc.checksum);
    const file = join(work, 'kb.snapshot');
    await writeFile(file, bytes);

    assert.equal((await call(server, 'DELETE', '/collections/kb')).json.result, true);
    assert.deepEqual(server.collections(), []);

    const form = new FormData();
    form.append('snapshot', await openAsBlob(file), 'qnb-restore-1.snapshot');
    const q = new URLSearchParams({ wait: 'true', priority: 'snapshot', checksum: desc.checksum });
    const up = await fetch(`${server.url}/collections/kb/snapshots/upload?${q}`, {
      method: 'POST',
      body: form,
    });
    assert.equal(up.status, 200);
    assert.deepEqual(((await up.json()) as { result: unknown }).result, true);

    assert.deepEqual(server.points('kb'), before);
    const scrolled = await call(server, 'POST', '/collections/kb/points/scroll', {
      with_vector: true,
      limit: 100,
    });
    const points = (scrolled.json.result as { points: { id: unknown }[] }).points;
    assert.deepEqual(
      points.map((p) => p.id),
      before.map((p) => p.id),
    );
    const kept = join(server.snapshotsDir, 'kb', 'qnb-restore-1.snapshot');
    assert.deepEqual(await readFile(kept), bytes, 'uploaded file stays on disk (#10207)');
    const listed = (await call(server, 'GET', '/collections/kb/snapshots')).json.result as { name: string }[];
    assert.ok(listed.some((d) => d.name === 'qnb-restore-1.snapshot'));
    assert.deepEqual(server.recoveries.at(-1), {
      source: 'upload',
      collection: 'kb',
      priority: 'snapshot',
      checksum: desc.checksum,
      wait: true,
      location: 'qnb-restore-1.snapshot',
    });
    const del = await call(server, 'DELETE', '/collections/kb/snapshots/qnb-restore-1.snapshot?wait=true');
    assert.equal(del.json.result, true);
    assert.equal(existsSync(kept), false);
  });

  test('upload: checksum mismatch 400, malformed checksum 422, bad priority 400, path names sanitised', async () => {
    const server = await servers.start();
    await seed(server, 'c');
    const desc = (await call(server, 'POST', '/collections/c/snapshots')).json.result as { name: string };
    const file = join(server.snapshotsDir, 'c', desc.name);
    const post = async (query: string, filename = 'x.snapshot') => {
      const form = new FormData();
      form.append('snapshot', await openAsBlob(file), filename);
      const res = await fetch(`${server.url}/collections/c2/snapshots/upload?${query}`, {
        method: 'POST',
        body: form,
      });
      return { status: res.status, body: (await res.json()) as { status: { error?: string } } };
    };
    const mismatch = await post(`checksum=${'a'.repeat(64)}`);
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.body.status.error!, /^Checksum mismatch: expected [0-9a-f]{64}, actual a{64}$/);
    assert.equal((await post('checksum=abc')).status, 422);
    assert.equal((await post('priority=replicas')).status, 400);
    assert.equal((await post('wait=maybe')).status, 400);
    assert.deepEqual(server.collections(), ['c']);
    const ok = await post('priority=no_sync', '../../escape.snapshot');
    assert.equal(ok.status, 200);
    assert.ok(existsSync(join(server.snapshotsDir, 'c2', 'escape.snapshot')));
    assert.deepEqual(server.points('c2'), server.points('c'));
  });

  test('recover: 403 outside snapshots dir, 400 missing file, 422 bad checksum, http location', async () => {
    const server = await servers.start();
    await seed(server, 'src');
    const outside = join(work, 'outside.snapshot');
    await writeFile(outside, 'not a snapshot');
    const put = (name: string, body: unknown) =>
      call(server, 'PUT', `/collections/${name}/snapshots/recover`, body);
    assert.equal((await put('t', { location: `file://${outside}` })).status, 403);
    assert.equal((await put('t', { location: `file://${server.snapshotsDir}/nope.snapshot` })).status, 400);
    assert.equal((await put('t', { location: 'file:///x', checksum: 'zz' })).status, 422);
    assert.equal((await put('t', { location: 'file:///x', priority: 'first' })).status, 400);
    assert.equal((await put('t', { location: 'not a url' })).status, 400);
    assert.equal((await put('t', { location: 'ftp://host/x' })).status, 400);
    const desc = (await call(server, 'POST', '/collections/src/snapshots')).json.result as {
      name: string;
      checksum: string;
    };
    const url = `${server.url}/collections/src/snapshots/${desc.name}`;
    const wrong = await put('t', { location: url, checksum: 'b'.repeat(64) });
    assert.equal(wrong.status, 400);
    assert.match((wrong.json.status as { error: string }).error, /^Wrong input: Snapshot checksum mismatch/);
    const good = await put('t', {
      location: url,
      checksum: desc.checksum.toUpperCase(),
      priority: 'snapshot',
    });
    assert.equal(good.status, 200);
    assert.deepEqual(server.points('t'), server.points('src'));
  });

  test('recover into an existing collection replaces its points; incompatible vectors give 400', async () => {
    const server = await servers.start();
    await seed(server, 'a');
    const desc = (await call(server, 'POST', '/collections/a/snapshots')).json.result as { name: string };
    const location = `file://${join(server.snapshotsDir, 'a', desc.name)}`;
    await call(server, 'PUT', '/collections/a/points?wait=true', {
      points: [{ id: 999, vector: { image: [1, 1, 1] } }],
    });
    assert.equal(server.points('a').length, 6);
    assert.equal((await call(server, 'PUT', '/collections/a/snapshots/recover', { location })).status, 200);
    assert.equal(server.points('a').length, 5);
    await call(server, 'PUT', '/collections/other', { vectors: { size: 4, distance: 'Cosine' } });
    const bad = await call(server, 'PUT', '/collections/other/snapshots/recover', { location });
    assert.equal(bad.status, 400);
    assert.match((bad.json.status as { error: string }).error, /not compatible with existing collection/);
  });

  test('custom sharding restored under a new name comes back empty (#10135)', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, body?: unknown) => call(server, method, path, body);
    await c('PUT', '/collections/tenants', {
      vectors: { size: 2, distance: 'Dot' },
      sharding_method: 'custom',
    });
    await c('PUT', '/collections/tenants/shards', { shard_key: 'eu' });
    const up = await c('PUT', '/collections/tenants/points?wait=true', {
      shard_key: 'eu',
      points: [{ id: 1, vector: [1, 2] }],
    });
    assert.equal(up.status, 200);
    const desc = (await c('POST', '/collections/tenants/snapshots')).json.result as { name: string };
    const location = `file://${join(server.snapshotsDir, 'tenants', desc.name)}`;
    assert.equal((await c('PUT', '/collections/copy/snapshots/recover', { location })).status, 200);
    assert.equal(
      ((await c('POST', '/collections/copy/points/count', {})).json.result as { count: number }).count,
      0,
    );
    await c('PUT', '/collections/copy2', {
      vectors: { size: 2, distance: 'Dot' },
      sharding_method: 'custom',
    });
    await c('PUT', '/collections/copy2/shards', { shard_key: 'eu' });
    assert.equal((await c('PUT', '/collections/copy2/snapshots/recover', { location })).status, 200);
    assert.deepEqual(server.points('copy2'), server.points('tenants'));
    const cluster = (await c('GET', '/collections/copy2/cluster')).json.result as { local_shards: unknown[] };
    assert.deepEqual(cluster.local_shards, [
      { shard_id: 1, shard_key: 'eu', points_count: 1, state: 'Active' },
    ]);
  });
});

describe('downloads', () => {
  test('gzip when the client advertises it, identity otherwise, byte ranges', async () => {
    const server = await servers.start();
    await seed(server, 'z');
    const desc = (await call(server, 'POST', '/collections/z/snapshots')).json.result as {
      name: string;
      size: number;
    };
    const url = `${server.url}/collections/z/snapshots/${desc.name}`;
    const file = await readFile(join(server.snapshotsDir, 'z', desc.name));
    const gz = await raw(url, { headers: { 'accept-encoding': 'gzip, deflate, br' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers['content-length'], undefined);
    assert.notDeepEqual(gz.body, file);
    assert.deepEqual(gunzipSync(gz.body), file);
    const plain = await raw(url, { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['content-length'], String(desc.size));
    assert.deepEqual(plain.body, file);
    assert.deepEqual((await raw(url)).body, file, 'no Accept-Encoding: identity');
    assert.deepEqual((await raw(url, { headers: { 'accept-encoding': 'gzip;q=0, identity' } })).body, file);
    const part = await raw(url, { headers: { range: 'bytes=100-199', 'accept-encoding': 'gzip' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 100-199/${desc.size}`);
    assert.deepEqual(part.body, file.subarray(100, 200));
    const tail = await raw(url, { headers: { range: 'bytes=-10' } });
    assert.deepEqual(tail.body, file.subarray(-10));
    assert.equal((await raw(url, { headers: { range: `bytes=${desc.size}-` } })).status, 416);
    assert.equal((await raw(`${server.url}/collections/z/snapshots/..%2F..%2Fetc`)).status, 404);
    assert.equal((await raw(`${server.url}/collections/z/snapshots/missing.snapshot`)).status, 404);
  });

  test('wait=false answers 202 and the snapshot appears later', async () => {
    const server = await servers.start();
    await seed(server, 'w');
    const res = await call(server, 'POST', '/collections/w/snapshots?wait=false');
    assert.equal(res.status, 202);
    assert.equal(res.json.status, 'accepted');
    let list: { checksum?: string }[] = [];
    for (let i = 0; i < 100 && list.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      list = (await call(server, 'GET', '/collections/w/snapshots')).json.result as { checksum?: string }[];
    }
    assert.equal(list.length, 1);
    assert.match(list[0]!.checksum!, /^[0-9a-f]{64}$/);
  });
});
