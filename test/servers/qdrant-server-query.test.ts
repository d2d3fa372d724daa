/**
 * The test server's `POST /collections/{c}/points/query` (routes-query.ts): nearest neighbours by
 * vector or point id, exact and approximate, Qdrant's response shape (validated against the
 * OpenAPI spec), and the `degraded-index` fault that breaks approximate search only.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { call, seed, UUID1, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
  assert.ok(servers.checked.length >= 6, `validated ${servers.checked.length} responses`);
});

type Scored = { id: number | string; score: number; version: number; payload?: object };
const points = (r: { json: Record<string, unknown> }) => (r.json.result as { points: Scored[] }).points;

describe('points/query', () => {
  test('by vector and by point id (the point itself left out), exact or not, same answer', async () => {
    const server = await servers.start();
    await seed(server, 'docs');
    const byVector = await call(server, 'POST', '/collections/docs/points/query', {
      query: [0, 0, 0, 1],
      using: 'text',
      limit: 2,
      params: { exact: true },
      with_payload: true,
    });
    assert.equal(byVector.status, 200, byVector.text);
    assert.deepEqual(
      points(byVector).map((p) => p.id),
      [UUID1, 7],
    );
    assert.deepEqual(points(byVector)[0]!.payload, { tags: ['x', 'y'] });
    const byId = await call(server, 'POST', '/collections/docs/points/query', { query: 7, using: 'text' });
    assert.equal(byId.status, 200, byId.text);
    assert.ok(!points(byId).some((p) => p.id === 7), 'the query point is not its own neighbour');
    assert.equal(points(byId)[0]!.payload, undefined, 'no payload unless asked');
    const approx = await call(server, 'POST', '/collections/docs/points/query', { query: 7, using: 'text' });
    assert.deepEqual(points(approx), points(byId));
    const missing = await call(server, 'POST', '/collections/docs/points/query', {
      query: 999,
      using: 'text',
    });
    assert.equal(missing.status, 404);
    const badName = await call(server, 'POST', '/collections/docs/points/query', {
      query: [1, 2],
      using: 'nope',
    });
    assert.equal(badName.status, 400);
  });

  test('degraded-index: approximate search misses points, exact search does not', async () => {
    const server = await servers.start();
    await seed(server, 'docs');
    server.inject({ op: 'query', fault: { kind: 'degraded-index' }, times: Number.POSITIVE_INFINITY });
    const q = { query: [0, 0, 0, 1], using: 'text', limit: 10 };
    const exact = await call(server, 'POST', '/collections/docs/points/query', {
      ...q,
      params: { exact: true },
    });
    const approx = await call(server, 'POST', '/collections/docs/points/query', q);
    assert.equal(points(exact).length, 3);
    assert.ok(points(approx).length < points(exact).length, JSON.stringify(points(approx)));
  });
});
