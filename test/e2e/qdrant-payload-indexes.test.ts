/**
 * Payload indexes survive a backup and a restore. A shard snapshot does not carry the
 * collection's payload index schema (a collection snapshot does), so a cluster restore must
 * re-create the indexes qnb recorded; the restore check compares the restored schema with the
 * record. Real HTTP through the built CLI against the Qdrant test server (payload-index.ts).
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VerificationError } from '../../src/core/errors.js';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import { createQdrantApi } from '../../src/targets/qdrant/qdrant-api.js';
import { checkRestored } from '../../src/targets/qdrant/qdrant-restore-check.js';
import { type QnbRun, qnbEnv, runQnb } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { type QdrantTestCluster, startQdrantTestCluster } from '../servers/qdrant/cluster.js';
import { startQdrantTestServer } from '../servers/qdrant/index.js';
import { call } from '../servers/qdrant/testing.js';
import type { QdrantTestServer } from '../servers/qdrant/types.js';

type Json = Record<string, unknown>;

/** The two indexes: one created with a type name, one with params. */
const INDEXES = { city: 'keyword', year: { type: 'integer', lookup: false, range: true } };
const REPORTED = ['city (keyword)', 'year (integer)'];

let cluster: QdrantTestCluster;

async function ok(r: Promise<{ status: number; text: string }>): Promise<void> {
  const res = await r;
  assert.equal(res.status, 200, res.text);
}

/** `name` with `n` points and both indexes, created through `server`. */
async function seed(server: { url: string }, name: string, body: Json, n: number): Promise<void> {
  await ok(
    call(server, 'PUT', `/collections/${name}`, { vectors: { size: 3, distance: 'Cosine' }, ...body }),
  );
  const points = Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    vector: [i + 1, (i % 5) + 0.5, 1],
    payload: { city: ['Oslo', 'Rome', 'Lima'][i % 3], year: 2000 + (i % 20), n: i },
  }));
  await ok(call(server, 'PUT', `/collections/${name}/points?wait=true`, { points }));
  for (const [field_name, field_schema] of Object.entries(INDEXES))
    await ok(call(server, 'PUT', `/collections/${name}/index?wait=true`, { field_name, field_schema }));
}

/** payload_schema of `name` as `server` reports it. */
async function schemaOf(server: { url: string }, name: string): Promise<Record<string, Json>> {
  const r = await call(server, 'GET', `/collections/${name}`);
  assert.equal(r.status, 200, r.text);
  return (r.json.result as Json).payload_schema as Record<string, Json>;
}

/** The restored collection has both indexes, with the recorded types and params. */
async function assertIndexes(server: { url: string }, name: string): Promise<void> {
  const schema = await schemaOf(server, name);
  assert.deepEqual(Object.keys(schema).sort(), ['city', 'year'], `indexes of "${name}"`);
  assert.equal(schema.city!.data_type, 'keyword');
  assert.equal(schema.city!.params, undefined);
  assert.equal(schema.year!.data_type, 'integer');
  assert.deepEqual(schema.year!.params, INDEXES.year);
}

async function world(t: Parameters<typeof tempDir>[0], env: Record<string, string>) {
  const cwd = await tempDir(t);
  const qnb = (args: string[], more: Record<string, string> = {}): Promise<QnbRun> =>
    runQnb(args, { cwd, env: qnbEnv({ ...env, ...more }) });
  const artifact = async (): Promise<ArtifactRecord> => {
    const sets = (await readdir(join(cwd, 'backups', 'sets'))).sort();
    const set = JSON.parse(await readFile(join(cwd, 'backups', 'sets', sets.at(-1)!), 'utf8'));
    return (set as { artifacts: ArtifactRecord[] }).artifacts[0]!;
  };
  return { cwd, qnb, artifact };
}

/** `restore-qdrant … --json`: exit 0, and the report. */
async function restored(run: Promise<QnbRun>): Promise<Json> {
  const r = await run;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as { report: Json }).report;
}

before(async () => {
  cluster = await startQdrantTestCluster({ nodes: 3 });
  await seed({ url: cluster.urls[0]! }, 'indexed', { shard_number: 3, replication_factor: 1 }, 60);
});

after(async () => {
  await cluster.stop();
});

describe('cluster backup (shard snapshots)', () => {
  test('records the payload schema; restore over itself and under --as re-creates both indexes before the uploads', async (t) => {
    const w = await world(t, { QDRANT_URL: cluster.urls[0]!, QDRANT_NODE_URLS: cluster.urls.join(',') });
    const before = cluster.nodes[0]!.points('indexed');
    const backup = await w.qnb(['backup-qdrant', '--collection', 'indexed']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const art = await w.artifact();
    assert.ok((art.details as Json).cluster, 'a cluster backup');
    assert.deepEqual((art.details as Json).payloadSchema, INDEXES);

    const dry = await w.qnb(['restore-qdrant', '--latest', '--collection', 'indexed', '--dry-run']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /create the recorded payload indexes: city, year/);

    // over itself: dropped, created from the record, indexes re-created, shards uploaded
    const over = await restored(
      w.qnb(['restore-qdrant', '--latest', '--collection', 'indexed', '--yes', '--json']),
    );
    assert.equal(over.settings, 'as backed up');
    assert.deepEqual(over.payloadIndexes, REPORTED);
    for (const node of cluster.nodes) await assertIndexes(node, 'indexed');
    assert.deepEqual(cluster.nodes[0]!.points('indexed'), before);

    // under a new name, as text
    const mark = cluster.nodes.map((n) => n.requests.length);
    const copy = await w.qnb([
      'restore-qdrant',
      '--latest',
      '--collection',
      'indexed',
      '--as',
      'indexed_copy',
    ]);
    assert.equal(copy.code, 0, copy.stdout + copy.stderr);
    assert.match(copy.stdout, /Payload indexes: city \(keyword\), year \(integer\) ✔/);
    for (const node of cluster.nodes) await assertIndexes(node, 'indexed_copy');
    assert.deepEqual(
      cluster.nodes[0]!.points('indexed_copy').map((p) => p.id),
      before.map((p) => p.id),
    );
    // the indexes were created (wait=true) on the entry node before its shard upload
    const seen = cluster.nodes[0]!.requests.slice(mark[0]);
    const creates = seen.flatMap((r, i) => (r.path === '/collections/indexed_copy/index' ? [i] : []));
    assert.equal(creates.length, 2);
    assert.ok(creates.every((i) => seen[i]!.method === 'PUT' && seen[i]!.query.wait === 'true'));
    const upload = seen.findIndex((r) =>
      /^\/collections\/indexed_copy\/shards\/\d+\/snapshots\/upload$/.test(r.path),
    );
    assert.ok(upload > Math.max(...creates), 'indexes before the first upload to this node');
  });
});

describe('single node (collection snapshots)', () => {
  let single: QdrantTestServer;
  before(async () => {
    single = await startQdrantTestServer();
    await seed(single, 'solo', {}, 40);
  });
  after(() => single.stop());

  test('round trip: the snapshot brings the indexes back through Qdrant itself; the check fails when one is missing', async (t) => {
    const w = await world(t, { QDRANT_URL: single.url });
    const backup = await w.qnb(['backup-qdrant', '--collection', 'solo']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const art = await w.artifact();
    assert.deepEqual((art.details as Json).payloadSchema, INDEXES);

    const mark = single.requests.length;
    const over = await restored(
      w.qnb(['restore-qdrant', '--latest', '--collection', 'solo', '--yes', '--json']),
    );
    assert.deepEqual(over.payloadIndexes, REPORTED);
    await assertIndexes(single, 'solo');
    const copy = await restored(
      w.qnb(['restore-qdrant', '--latest', '--collection', 'solo', '--as', 'solo_copy', '--json']),
    );
    assert.deepEqual(copy.payloadIndexes, REPORTED);
    await assertIndexes(single, 'solo_copy');
    assert.deepEqual(
      single.requests.slice(mark).filter((r) => r.path.endsWith('/index')),
      [],
      'qnb created no index: the collection snapshot carried them',
    );

    // the restore check: a recorded index missing on the restored collection fails it
    await ok(call(single, 'DELETE', '/collections/solo_copy/index/city?wait=true'));
    const api = createQdrantApi({ url: single.url });
    t.after(() => api.close());
    const ctx = { reporter: { emit: () => {} }, now: () => new Date() };
    await assert.rejects(
      checkRestored(api, art, 'solo_copy', ctx, { started: Date.now() }),
      (err: Error) =>
        err instanceof VerificationError && /payload_schema\.city: keyword → no index/.test(err.message),
    );
    // a backup made before qnb recorded the schema: nothing to compare, no claim in the report
    const old = { ...art, details: { ...art.details, payloadSchema: undefined } };
    const report = await checkRestored(api, old, 'solo_copy', ctx, { started: Date.now() });
    assert.equal(report.settings, 'as backed up');
    assert.equal(report.payloadIndexes, undefined);
  });
});
