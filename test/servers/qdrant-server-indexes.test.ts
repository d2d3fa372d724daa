/**
 * Payload indexes of the Qdrant test server (payload-index.ts): create and delete, the
 * `payload_schema` of CollectionInfo, and which snapshots carry the schema — a collection
 * snapshot does (recovered into a missing collection: indexes re-created; into an existing one:
 * that collection keeps its own), a shard snapshot does not. Cluster mode: one schema for every
 * node. Every response is validated against Qdrant's OpenAPI spec.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startQdrantTestCluster } from './qdrant/cluster.js';
import { call, downloadSnapshot, tarEntries, ValidatedServers } from './qdrant/testing.js';
import type { QdrantTestServer } from './qdrant/types.js';

const servers = new ValidatedServers();

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
});

type Json = Record<string, unknown>;
const result = (r: { json: Json }) => r.json.result as Json;
const errorOf = (r: { json: Json }) => (r.json.status as { error: string }).error;
const schemaOf = async (server: QdrantTestServer, name: string) =>
  result(await call(server, 'GET', `/collections/${name}`)).payload_schema as Json;

/** A collection with 3 points and indexes on `city` (keyword) and `year` (integer, with params). */
async function indexed(server: QdrantTestServer, name: string, body: Json = {}): Promise<void> {
  const c = (method: string, path: string, b?: unknown) => call(server, method, path, b);
  assert.equal(
    (await c('PUT', `/collections/${name}`, { vectors: { size: 2, distance: 'Dot' }, ...body })).status,
    200,
  );
  const points = [
    { id: 1, vector: [1, 0], payload: { city: 'Oslo', year: 2020 } },
    { id: 2, vector: [0, 1], payload: { city: 'Rome' } },
    { id: 3, vector: [1, 1], payload: {} },
  ];
  assert.equal((await c('PUT', `/collections/${name}/points?wait=true`, { points })).status, 200);
  const city = await c('PUT', `/collections/${name}/index?wait=true`, {
    field_name: 'city',
    field_schema: 'keyword',
  });
  assert.equal(city.status, 200, city.text);
  const year = await c('PUT', `/collections/${name}/index`, {
    field_name: 'year',
    field_schema: { type: 'integer', range: true, lookup: false },
  });
  assert.equal(year.status, 200, year.text);
  assert.equal(result(city).status, 'completed');
  assert.equal(result(year).status, 'acknowledged', 'wait=false acknowledges, like Qdrant');
  assert.equal(typeof result(year).operation_id, 'number');
}

const EXPECTED = {
  city: { data_type: 'keyword', points: 2 },
  year: { data_type: 'integer', params: { type: 'integer', range: true, lookup: false }, points: 1 },
};

describe('payload indexes', () => {
  test('create, list in payload_schema, replace, delete; bad bodies are refused', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, b?: unknown) => call(server, method, path, b);
    await indexed(server, 'docs');
    assert.deepEqual(await schemaOf(server, 'docs'), EXPECTED);
    // re-creating a field's index replaces it
    await c('PUT', '/collections/docs/index?wait=true', { field_name: 'year', field_schema: 'float' });
    assert.deepEqual((await schemaOf(server, 'docs')).year, { data_type: 'float', points: 1 });
    const del = await c('DELETE', '/collections/docs/index/year?wait=true');
    assert.equal(del.status, 200);
    assert.equal(result(del).status, 'completed');
    assert.deepEqual(Object.keys(await schemaOf(server, 'docs')), ['city']);

    const missing = await c('PUT', '/collections/docs/index', { field_name: 'x' });
    assert.equal(missing.status, 400);
    assert.match(errorOf(missing), /specify `field_schema`/);
    for (const field_schema of ['string', { type: 'nope' }, ['keyword']]) {
      const bad = await c('PUT', '/collections/docs/index', { field_name: 'x', field_schema });
      assert.equal(bad.status, 400, JSON.stringify(field_schema));
      assert.match(errorOf(bad), /PayloadFieldSchema/);
    }
    assert.equal((await c('PUT', '/collections/docs/index', { field_schema: 'keyword' })).status, 400);
    const absent = await c('PUT', '/collections/nope/index', { field_name: 'x', field_schema: 'keyword' });
    assert.equal(absent.status, 404);
  });

  test('a collection snapshot carries the schema: a missing collection gets it, an existing one keeps its own', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, b?: unknown) => call(server, method, path, b);
    await indexed(server, 'src');
    const snap = result(await c('POST', '/collections/src/snapshots')) as { name: string };
    const entries = await tarEntries(
      await downloadSnapshot(server, `/collections/src/snapshots/${snap.name}`),
    );
    const index = JSON.parse(entries.get('payload_index.json')!.toString('utf8')) as Json;
    assert.deepEqual(Object.keys(index.schema as Json).sort(), ['city', 'year']);

    const location = `file://${join(server.snapshotsDir, 'src', snap.name)}`;
    assert.equal((await c('PUT', '/collections/fresh/snapshots/recover', { location })).status, 200);
    assert.deepEqual(await schemaOf(server, 'fresh'), EXPECTED, 'indexes re-created in the new collection');

    await c('PUT', '/collections/live', { vectors: { size: 2, distance: 'Dot' } });
    await c('PUT', '/collections/live/index?wait=true', { field_name: 'tag', field_schema: 'text' });
    assert.equal((await c('PUT', '/collections/live/snapshots/recover', { location })).status, 200);
    assert.deepEqual(Object.keys(await schemaOf(server, 'live')), ['tag'], 'the existing schema stays');
  });

  test('a shard snapshot does not carry the schema', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, b?: unknown) => call(server, method, path, b);
    await indexed(server, 'src');
    const snap = result(await c('POST', '/collections/src/shards/0/snapshots')) as { name: string };
    const entries = await tarEntries(
      await downloadSnapshot(server, `/collections/src/shards/0/snapshots/${snap.name}`),
    );
    assert.equal(entries.has('payload_index.json'), false);
    // restored shard by shard into a new collection: the points come back, the indexes do not
    await c('PUT', '/collections/copy', { vectors: { size: 2, distance: 'Dot' } });
    const location = `file://${join(server.snapshotsDir, 'src', 'shards', '0', snap.name)}`;
    const recovered = await c('PUT', '/collections/copy/snapshots/recover', { location });
    assert.equal(recovered.status, 200, recovered.text);
    assert.equal(server.points('copy').length, 3);
    assert.deepEqual(await schemaOf(server, 'copy'), {});
  });

  test('cluster mode: one schema for the collection, seen by every node', async () => {
    const cluster = await startQdrantTestCluster({ nodes: 3, start: (o) => servers.start(o) });
    try {
      const [a, b, cNode] = cluster.nodes;
      await indexed(a!, 'docs', { shard_number: 3 });
      for (const node of [a!, b!, cNode!]) assert.deepEqual(await schemaOf(node, 'docs'), EXPECTED);
      await call(b!, 'DELETE', '/collections/docs/index/city?wait=true');
      assert.deepEqual(Object.keys(await schemaOf(cNode!, 'docs')), ['year']);
    } finally {
      await cluster.stop();
    }
  });
});
