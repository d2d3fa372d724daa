/**
 * Tests of the Qdrant test server: official client compatibility, snapshot roundtrip, errors.
 * Every response is validated against Qdrant's OpenAPI spec (see ValidatedServers).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, openAsBlob } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { QdrantClient } from '@qdrant/js-client-rest';
import tar from 'tar-stream';
import type { QdrantTestServer } from './qdrant/index.js';
import { call, raw, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();
let work: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'qdrant-server-test-'));
});

after(async () => {
  await servers.stopAll();
  await rm(work, { recursive: true, force: true });
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
  assert.ok(servers.checked.length > 50, `validated ${servers.checked.length} responses`);
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const UUID1 = '550e8400-e29b-41d4-a716-446655440000';
const UUID2 = 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff';

/** A collection with named dense vectors + a sparse vector, 5 points with payloads. */
async function seed(server: QdrantTestServer, name: string): Promise<void> {
  const client = new QdrantClient({ url: server.url, checkCompatibility: false });
  await client.createCollection(name, {
    vectors: { text: { size: 4, distance: 'Cosine' }, image: { size: 3, distance: 'Dot' } },
    sparse_vectors: { keywords: {} },
  });
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 7, vector: { text: [1, 2, 3, 4], image: [0.5, 0.25, 0.125] }, payload: { title: 'seven', n: 7 } },
      {
        id: UUID2,
        vector: { text: [0.1, 0.2, 0.3, 0.4], keywords: { indices: [9, 2], values: [0.5, 1.5] } },
      },
      { id: 1, vector: { image: [1, 0, 0] }, payload: { nested: { a: [1, 2, { b: null }] }, s: 'ü' } },
      { id: UUID1, vector: { text: [0, 0, 0, 1], image: [3, 2, 1] }, payload: { tags: ['x', 'y'] } },
      { id: 100, vector: { keywords: { indices: [1], values: [0.3] } }, payload: {} },
    ],
  });
}

async function downloadSnapshot(server: QdrantTestServer, path: string): Promise<Buffer> {
  const res = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': 'identity' } });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-encoding'), null);
  return Buffer.from(await res.arrayBuffer());
}

async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const extract = tar.extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  extract.end(buf);
  await done;
  return out;
}

describe('service endpoints', () => {
  test('GET /, /cluster, /healthz', async () => {
    const server = await servers.start({ version: '1.19.3' });
    const root = await call(server, 'GET', '/');
    assert.deepEqual(root.json, {
      title: 'qdrant - vector search engine',
      version: '1.19.3',
      commit: 'qnb-test-server',
    });
    const cluster = await call(server, 'GET', '/cluster');
    assert.deepEqual(cluster.json.result, { status: 'disabled' });
    assert.equal((await call(server, 'GET', '/healthz')).text, 'healthz check passed');
  });
});

describe('official @qdrant/js-client-rest works unchanged', () => {
  test('collections, points, aliases, snapshots, recover from file://', async () => {
    const server = await servers.start();
    const client = new QdrantClient({ url: server.url, checkCompatibility: false });
    await seed(server, 'docs');
    assert.deepEqual(await client.getCollections(), { collections: [{ name: 'docs' }] });
    assert.deepEqual(await client.collectionExists('docs'), { exists: true });
    const info = await client.getCollection('docs');
    assert.equal(info.points_count, 5);
    assert.equal(info.status, 'green');
    assert.deepEqual(info.config.params.sparse_vectors, { keywords: {} });
    assert.deepEqual(await client.count('docs', { exact: true }), { count: 5 });
    assert.deepEqual(await client.count('docs', { filter: { must: [{ key: 'n', match: { value: 7 } }] } }), {
      count: 1,
    });

    const page1 = await client.scroll('docs', { limit: 3 });
    assert.deepEqual(
      page1.points.map((p) => p.id),
      [1, 7, 100],
    );
    assert.equal(page1.next_page_offset, UUID1);
    const page2 = await client.scroll('docs', {
      limit: 3,
      offset: page1.next_page_offset,
      with_vector: true,
    });
    assert.deepEqual(
      page2.points.map((p) => p.id),
      [UUID1, UUID2],
    );
    assert.equal(page2.next_page_offset, null);
    const withSparse = page2.points[1]!.vector as Record<string, unknown>;
    assert.deepEqual(withSparse.keywords, { indices: [2, 9], values: [1.5, 0.5] }, 'sparse sorted by index');

    const got = await client.retrieve('docs', { ids: [7, UUID1, 12345], with_vector: ['image'] });
    assert.deepEqual(
      got.map((p) => p.id),
      [7, UUID1],
    );
    assert.deepEqual(got[0]!.vector, { image: [0.5, 0.25, 0.125] });
    assert.deepEqual(got[0]!.payload, { title: 'seven', n: 7 });
    const text = (await client.retrieve('docs', { ids: [7], with_vector: true }))[0]!.vector as Record<
      string,
      number[]
    >;
    const norm = Math.sqrt(30);
    assert.deepEqual(
      text.text,
      [1, 2, 3, 4].map((x) => Math.fround(x / norm)),
      'Cosine vectors are normalised',
    );

    await client.updateCollectionAliases({
      actions: [
        { create_alias: { collection_name: 'docs', alias_name: 'current' } },
        { create_alias: { collection_name: 'docs', alias_name: 'old' } },
      ],
    });
    await client.updateCollectionAliases({
      actions: [
        { rename_alias: { old_alias_name: 'old', new_alias_name: 'older' } },
        { delete_alias: { alias_name: 'current' } },
      ],
    });
    assert.deepEqual(await client.getAliases(), {
      aliases: [{ alias_name: 'older', collection_name: 'docs' }],
    });
    assert.deepEqual(await client.getCollectionAliases('docs'), {
      aliases: [{ alias_name: 'older', collection_name: 'docs' }],
    });
    assert.deepEqual(await client.count('older'), { count: 5 }, 'aliases resolve');

    const snap = await client.createSnapshot('docs', { wait: true });
    assert.ok(snap);
    assert.match(snap.name, /^docs-\d+-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.snapshot$/);
    const file = join(server.snapshotsDir, 'docs', snap.name);
    const bytes = await readFile(file);
    assert.equal(snap.size, bytes.length);
    assert.equal(snap.checksum, sha256(bytes));
    assert.equal(await readFile(`${file}.checksum`, 'utf8'), sha256(bytes));
    assert.deepEqual(await client.listSnapshots('docs'), [snap]);

    const before = server.points('docs');
    assert.equal(
      await client.recoverSnapshot('restored', { location: `file://${file}`, priority: 'snapshot' }),
      true,
    );
    assert.deepEqual(server.points('restored'), before);
    assert.deepEqual(server.recoveries.at(-1), {
      source: 'recover',
      collection: 'restored',
      priority: 'snapshot',
      checksum: null,
      wait: true,
      location: `file://${file}`,
    });

    assert.equal(await client.deleteSnapshot('docs', snap.name), true);
    assert.deepEqual(await client.listSnapshots('docs'), []);
    assert.equal(existsSync(`${file}.checksum`), false);

    assert.equal(await client.deleteCollection('restored'), true);
    assert.deepEqual(server.collections(), ['docs']);
    assert.deepEqual(await client.collectionExists('restored'), { exists: false });
  });

  test('unnamed vectors with batch upsert, full snapshots', async () => {
    const server = await servers.start();
    const client = new QdrantClient({ url: server.url, checkCompatibility: false });
    await client.createCollection('plain', { vectors: { size: 2, distance: 'Euclid' }, shard_number: 2 });
    await client.upsert('plain', {
      wait: true,
      batch: {
        ids: [3, 1, 2],
        vectors: [
          [1, 1],
          [0.1, 0.2],
          [5, 6],
        ],
        payloads: [{ a: 3 }, null, { a: 2 }],
      },
    });
    const all = await client.scroll('plain', { with_vector: true });
    assert.deepEqual(all.points, [
      { id: 1, payload: {}, vector: [Math.fround(0.1), Math.fround(0.2)] },
      { id: 2, payload: { a: 2 }, vector: [5, 6] },
      { id: 3, payload: { a: 3 }, vector: [1, 1] },
    ]);
    assert.equal((await client.getCollection('plain')).config.params.shard_number, 2);
    await client.updateCollectionAliases({
      actions: [{ create_alias: { collection_name: 'plain', alias_name: 'p' } }],
    });

    const full = await client.createFullSnapshot({ wait: true });
    assert.match(full.name, /^full-snapshot-\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}\.snapshot$/);
    assert.deepEqual(await client.listFullSnapshots(), [full]);
    const bytes = await downloadSnapshot(server, `/snapshots/${full.name}`);
    assert.equal(sha256(bytes), full.checksum);
    const entries = await tarEntries(bytes);
    const config = JSON.parse(entries.get('config.json')!.toString());
    const inner = config.collections_mapping.plain as string;
    assert.match(inner, /^plain-\d+-.*\.snapshot$/);
    assert.deepEqual(config.collections_aliases, { p: 'plain' });
    const innerEntries = await tarEntries(entries.get(inner)!);
    assert.ok(innerEntries.has('points.jsonl'));
    assert.equal(await client.deleteFullSnapshot(full.name), true);
    assert.deepEqual(await client.listFullSnapshots(), []);
  });
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

describe('errors use Qdrant envelopes and status codes', () => {
  test('404, 409, 422, 400', async () => {
    const server = await servers.start();
    const err = (r: { json: Record<string, unknown> }) => (r.json.status as { error: string }).error;
    const missing = await call(server, 'GET', '/collections/nope');
    assert.equal(missing.status, 404);
    assert.equal(err(missing), "Not found: Collection `nope` doesn't exist!");
    assert.equal((await call(server, 'POST', '/collections/nope/snapshots')).status, 404);
    assert.equal((await call(server, 'GET', '/collections/nope/snapshots')).status, 404);
    await call(server, 'PUT', '/collections/e', { vectors: { size: 3, distance: 'Cosine' } });
    const dup = await call(server, 'PUT', '/collections/e', { vectors: { size: 3, distance: 'Cosine' } });
    assert.equal(dup.status, 409);
    assert.equal(err(dup), 'Wrong input: Collection `e` already exists!');
    assert.equal(
      (await call(server, 'PUT', '/collections/f', { vectors: { size: 0, distance: 'Cosine' } })).status,
      422,
    );
    assert.equal(
      (await call(server, 'PUT', '/collections/f', { vectors: { size: 3, distance: 'Cos' } })).status,
      400,
    );
    assert.equal((await call(server, 'PUT', '/collections/a%3Fb', {})).status, 422);
    const dim = await call(server, 'PUT', '/collections/e/points?wait=true', {
      points: [{ id: 1, vector: [1, 2] }],
    });
    assert.equal(dim.status, 400);
    assert.equal(err(dim), 'Wrong input: Vector dimension error: expected dim: 3, got 2');
    const badId = await call(server, 'PUT', '/collections/e/points', {
      points: [{ id: 'x', vector: [1, 2, 3] }],
    });
    assert.equal(badId.status, 400);
    assert.equal((await call(server, 'GET', '/collections/e/points/5')).status, 404);
    assert.equal((await call(server, 'DELETE', '/collections/e/snapshots/none.snapshot')).status, 404);
    assert.equal((await call(server, 'DELETE', '/snapshots/none.snapshot')).status, 404);
    assert.equal((await call(server, 'DELETE', '/collections/zzz')).json.result, false);
    const alias = await call(server, 'POST', '/collections/aliases', {
      actions: [{ create_alias: { collection_name: 'nope', alias_name: 'x' } }],
    });
    assert.equal(alias.status, 404);
  });
});

describe('auth', () => {
  test('no key 401, wrong key 401, read-only can list/download but not write', async () => {
    const server = await servers.start({ apiKey: 'manage-key', readOnlyApiKey: 'read-key' });
    const rw = { 'api-key': 'manage-key' };
    const ro = { 'api-key': 'read-key' };
    assert.equal((await call(server, 'GET', '/')).status, 200, '/ is whitelisted');
    const none = await call(server, 'GET', '/collections');
    assert.equal(none.status, 401);
    assert.equal(none.text, 'Must provide an API key or an Authorization bearer token');
    const wrong = await call(server, 'GET', '/collections', undefined, { 'api-key': 'nope' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.text, 'Invalid API key or JWT');
    const bearer = await call(server, 'GET', '/collections', undefined, {
      authorization: 'Bearer manage-key',
    });
    assert.equal(bearer.status, 200);

    await call(server, 'PUT', '/collections/s', { vectors: { size: 2, distance: 'Dot' } }, rw);
    await call(server, 'PUT', '/collections/s/points?wait=true', { points: [{ id: 1, vector: [1, 2] }] }, rw);
    const desc = (await call(server, 'POST', '/collections/s/snapshots', undefined, rw)).json.result as {
      name: string;
    };
    assert.equal((await call(server, 'GET', '/collections', undefined, ro)).status, 200);
    assert.equal((await call(server, 'GET', '/collections/s/snapshots', undefined, ro)).status, 200);
    assert.equal((await call(server, 'POST', '/collections/s/points/count', {}, ro)).status, 200);
    assert.equal((await call(server, 'POST', '/collections/s/points/scroll', {}, ro)).status, 200);
    const dl = await raw(`${server.url}/collections/s/snapshots/${desc.name}`, { headers: ro });
    assert.equal(dl.status, 200);
    assert.equal(dl.body.length, Number(dl.headers['content-length']));

    const denied = await call(server, 'POST', '/collections/s/snapshots', undefined, ro);
    assert.equal(denied.status, 403);
    assert.equal(
      (denied.json.status as { error: string }).error,
      'Forbidden: Global manage access is required',
    );
    assert.equal((await call(server, 'PUT', '/collections/s/points', { points: [] }, ro)).status, 403);
    assert.equal((await call(server, 'DELETE', '/collections/s', undefined, ro)).status, 403);
    assert.equal(
      (await call(server, 'PUT', '/collections/s/snapshots/recover', { location: 'file:///x' }, ro)).status,
      403,
    );
    const form = new FormData();
    form.append('snapshot', new Blob([Buffer.alloc(1000)]), 'x.snapshot');
    const up = await fetch(`${server.url}/collections/s/snapshots/upload`, {
      method: 'POST',
      body: form,
      headers: ro,
    });
    assert.equal(up.status, 403);
    await up.text();
    const upNoKey = await fetch(`${server.url}/collections/s/snapshots/upload`, {
      method: 'POST',
      body: form,
    });
    assert.equal(upNoKey.status, 401);
    await upNoKey.text();

    const client = new QdrantClient({ url: server.url, apiKey: 'read-key', checkCompatibility: false });
    assert.deepEqual(await client.getCollections(), { collections: [{ name: 's' }] });
    await assert.rejects(client.createSnapshot('s'), (e: Error & { status?: number }) => e.status === 403);
  });
});
