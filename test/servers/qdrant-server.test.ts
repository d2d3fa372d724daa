/**
 * Tests of the Qdrant test server: service endpoints, the official client, error envelopes, auth.
 * Every response is validated against Qdrant's OpenAPI spec (see ValidatedServers).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { QdrantClient } from '@qdrant/js-client-rest';
import {
  call,
  downloadSnapshot,
  raw,
  seed,
  sha256,
  tarEntries,
  UUID1,
  UUID2,
  ValidatedServers,
} from './qdrant/testing.js';

const servers = new ValidatedServers();

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
  assert.ok(servers.checked.length > 30, `validated ${servers.checked.length} responses`);
});

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
