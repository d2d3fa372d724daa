/**
 * Real-Qdrant behaviours the test server models (issue 11): recovery into an existing collection
 * keeps its settings, strict mode, and the rest listed in docs/qdrant.md. Every response is
 * validated against Qdrant's OpenAPI spec.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { call, raw, seed, uploadFile, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
});

type Json = Record<string, unknown>;
const result = (r: { json: Json }) => r.json.result as Json;
const errorOf = (r: { json: Json }) => (r.json.status as { error: string }).error;

describe('recovery into an existing collection (Qdrant _do_recover_from_snapshot)', () => {
  test('keeps the existing collection settings and replaces only the points', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, body?: unknown) => call(server, method, path, body);
    await c('PUT', '/collections/src', {
      vectors: { size: 2, distance: 'Dot' },
      hnsw_config: { m: 32 },
      on_disk_payload: true,
    });
    await c('PUT', '/collections/src/points?wait=true', { points: [{ id: 1, vector: [1, 2] }] });
    const snap = result(await c('POST', '/collections/src/snapshots')) as { name: string };
    const location = `file://${join(server.snapshotsDir, 'src', snap.name)}`;
    await c('PUT', '/collections/live', {
      vectors: { size: 2, distance: 'Dot' },
      hnsw_config: { m: 4 },
      on_disk_payload: false,
      strict_mode_config: { enabled: true, max_query_limit: 50 },
    });
    await c('PUT', '/collections/live/points?wait=true', { points: [{ id: 9, vector: [0, 1] }] });
    assert.equal((await c('PUT', '/collections/live/snapshots/recover', { location })).status, 200);
    const info = result(await c('GET', '/collections/live'));
    const config = info.config as Json;
    assert.equal((config.hnsw_config as Json).m, 4, 'hnsw kept');
    assert.equal((config.params as Json).on_disk_payload, false, 'on_disk_payload kept');
    assert.equal((config.strict_mode_config as Json).max_query_limit, 50, 'strict mode kept');
    assert.deepEqual(
      server.points('live').map((p) => p.id),
      [1],
      'points come from the snapshot',
    );
    // a missing collection is created from the snapshot's config
    assert.equal((await c('PUT', '/collections/fresh/snapshots/recover', { location })).status, 200);
    const fresh = result(await c('GET', '/collections/fresh')).config as Json;
    assert.equal((fresh.hnsw_config as Json).m, 32);
    assert.equal((fresh.params as Json).on_disk_payload, true);
  });
});

describe('strict mode (StrictModeVerification)', () => {
  test('exact count, scroll limit and timeout are refused only when strict mode is enabled', async () => {
    const server = await servers.start();
    const c = (method: string, path: string, body?: unknown) => call(server, method, path, body);
    await c('PUT', '/collections/strict', {
      vectors: { size: 2, distance: 'Dot' },
      strict_mode_config: { enabled: true, search_allow_exact: false, max_query_limit: 5, max_timeout: 30 },
    });
    await c('PUT', '/collections/off', {
      vectors: { size: 2, distance: 'Dot' },
      strict_mode_config: { enabled: false, search_allow_exact: false },
    });
    const points = Array.from({ length: 7 }, (_, i) => ({ id: i + 1, vector: [i, 1] }));
    await c('PUT', '/collections/strict/points?wait=true', { points });
    for (const body of [{ exact: true }, {}]) {
      const r = await c('POST', '/collections/strict/points/count', body);
      assert.equal(r.status, 400);
      assert.equal(errorOf(r), 'Bad request: Exact search disabled!. Help: Set exact=false.');
    }
    const approx = await c('POST', '/collections/strict/points/count', { exact: false });
    assert.equal(approx.status, 200);
    assert.equal(result(approx).count, 7);
    assert.equal((await c('POST', '/collections/off/points/count', { exact: true })).status, 200);

    const tooLong = await c('POST', '/collections/strict/points/count?timeout=60', { exact: false });
    assert.equal(tooLong.status, 400);
    assert.match(errorOf(tooLong), /Limit exceeded 60 > 30 for "timeout"/);
    assert.equal(
      (await c('POST', '/collections/strict/points/count?timeout=30', { exact: false })).status,
      200,
    );

    const big = await c('POST', '/collections/strict/points/scroll', {});
    assert.equal(big.status, 400, 'the default scroll limit (10) exceeds max_query_limit');
    assert.equal(
      errorOf(big),
      'Bad request: Limit exceeded 10 > 5 for "limit". Help: Reduce the "limit" parameter to or below 5.',
    );
    const page = await c('POST', '/collections/strict/points/scroll', { limit: 5 });
    assert.equal(page.status, 200);
    assert.equal((result(page).points as unknown[]).length, 5);
  });
});

describe('read-only API key (service.read_only_api_key)', () => {
  test('writes get 403; a large upload is cut off before its body is read; the delete probe tells the keys apart', async () => {
    const server = await servers.start({ apiKey: 'manage-key', readOnlyApiKey: 'read-key' });
    const as = (key: string) => ({ 'api-key': key });
    await call(server, 'PUT', '/collections/c', { vectors: { size: 2, distance: 'Dot' } }, as('manage-key'));
    const create = await call(server, 'POST', '/collections/c/snapshots', undefined, as('read-key'));
    assert.equal(create.status, 403);
    assert.equal(errorOf(create), 'Forbidden: Global manage access is required');
    // the probe: deleting a full snapshot that cannot exist
    const probe = '/snapshots/qnb-access-probe-0000.snapshot';
    assert.equal((await call(server, 'DELETE', probe, undefined, as('manage-key'))).status, 404);
    assert.equal((await call(server, 'DELETE', probe, undefined, as('read-key'))).status, 403);
    // a 4 MiB upload with the read-only key: the connection is reset while the body is sent
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    const up = await raw(`${server.url}/collections/c/snapshots/upload`, {
      method: 'POST',
      headers: { ...as('read-key'), 'content-type': 'multipart/form-data; boundary=x' },
      body: big,
    });
    assert.ok(up.error, `the upload must break off (got HTTP ${up.status})`);
    assert.equal(server.recoveries.length, 0, 'nothing recovered');
  });
});

describe('snapshots_storage: s3', () => {
  test('checksum null, downloads without Content-Length, uploads kept where delete cannot find them', async () => {
    const server = await servers.start({ snapshotsStorage: 's3' });
    await seed(server, 'kb');
    const created = result(await call(server, 'POST', '/collections/kb/snapshots')) as Json & {
      name: string;
    };
    assert.equal(created.checksum, null);
    const listed = (await call(server, 'GET', '/collections/kb/snapshots')).json.result as Json[];
    assert.deepEqual(
      listed.map((d) => [d.name, d.checksum]),
      [[created.name, null]],
    );
    const dl = await raw(`${server.url}/collections/kb/snapshots/${created.name}`, {
      headers: { 'accept-encoding': 'identity' },
    });
    assert.equal(dl.status, 200);
    assert.equal(dl.headers['content-length'], undefined);
    assert.equal(dl.headers['transfer-encoding'], 'chunked');
    assert.equal(dl.body.length, created.size);

    const file = join(server.dataDir, 'dl.snapshot');
    await writeFile(file, dl.body);
    const up = await uploadFile(
      `${server.url}/collections/kb/snapshots/upload?wait=true`,
      file,
      'mine.snapshot',
    );
    assert.equal(up.status, 200, up.body);
    const del = await call(server, 'DELETE', '/collections/kb/snapshots/mine.snapshot');
    assert.equal(del.status, 404, 'delete looks in the bucket');
    assert.ok(existsSync(join(server.snapshotsDir, 'kb', 'mine.snapshot')), 'the upload stays on local disk');
    const after = (await call(server, 'GET', '/collections/kb/snapshots')).json.result as Json[];
    assert.ok(!after.some((d) => d.name === 'mine.snapshot'), 'and is not listed');
  });
});

describe('upload into an alias name', () => {
  test('is stored under snapshots/<alias>/, recovered into the aliased collection; delete gives 404', async () => {
    const server = await servers.start();
    await seed(server, 'kb');
    await call(server, 'POST', '/collections/aliases', {
      actions: [{ create_alias: { alias_name: 'kb_live', collection_name: 'kb' } }],
    });
    const created = result(await call(server, 'POST', '/collections/kb/snapshots')) as { name: string };
    const file = join(server.snapshotsDir, 'kb', created.name);
    const up = await uploadFile(`${server.url}/collections/kb_live/snapshots/upload`, file, 'up.snapshot');
    assert.equal(up.status, 200, up.body);
    assert.equal((await call(server, 'DELETE', '/collections/kb_live/snapshots/up.snapshot')).status, 404);
    assert.ok(existsSync(join(server.snapshotsDir, 'kb_live', 'up.snapshot')));
  });
});

describe('interrupted wait=true calls', () => {
  test('a proxy that gives up (504) does not stop Qdrant: the snapshot and the recovery finish in the background', async () => {
    const server = await servers.start({ recoveryDelayMs: 300 });
    await seed(server, 'kb');
    server.inject({ op: 'create-snapshot', fault: { kind: 'proxy-gave-up' } });
    const create = await call(server, 'POST', '/collections/kb/snapshots?wait=true');
    assert.equal(create.status, 504);
    assert.match(create.text, /504 Gateway Time-out/);
    let listed: Json[] = [];
    for (let i = 0; i < 50 && listed.length === 0; i++) {
      listed = (await call(server, 'GET', '/collections/kb/snapshots')).json.result as Json[];
      if (listed.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(listed.length, 1, 'the snapshot was made anyway');
    const file = join(server.snapshotsDir, 'kb', String(listed[0]!.name));

    server.inject({ op: 'upload-snapshot', fault: { kind: 'proxy-gave-up', status: 502 } });
    const up = await uploadFile(
      `${server.url}/collections/copy/snapshots/upload?wait=true`,
      file,
      'u.snapshot',
    );
    assert.equal(up.status, 502);
    for (let i = 0; i < 50 && !server.collections().includes('copy'); i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(server.collections().includes('copy'), 'the collection is created first');
    assert.equal(server.points('copy').length, 0, 'and is empty while the shards are recovered');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(server.points('copy').length, 5, 'then the recovery completes');
  });
});

describe('keep-alive connections', () => {
  test('an idle connection is closed after 5 s; keep-alive-close closes a reused one before answering', async () => {
    const server = await servers.start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string) =>
      new Promise<{ status: number; reused: boolean; error?: Error; socket?: Socket }>((resolve) => {
        const req = request(`${server.url}${path}`, { agent }, (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, reused: req.reusedSocket, socket: req.socket! }),
          );
        });
        req.on('error', (error) => resolve({ status: 0, reused: req.reusedSocket, error }));
        req.end();
      });
    const first = await get('/collections');
    assert.equal(first.status, 200);
    const started = Date.now();
    await new Promise((r) => first.socket!.once('close', r));
    const idle = Date.now() - started;
    assert.ok(idle > 4500 && idle < 7000, `closed after ${idle} ms idle`);

    assert.equal((await get('/collections')).status, 200);
    server.inject({ op: 'list-collections', fault: { kind: 'keep-alive-close' } });
    const crossed = await get('/collections');
    assert.equal(crossed.status, 0);
    assert.equal(crossed.reused, true);
    assert.match(String((crossed.error as NodeJS.ErrnoException).code), /ECONNRESET/);
    agent.destroy();
  });
});

describe('deferred points (prevent_unoptimized)', () => {
  test('points beyond indexing_threshold stay invisible until the optimizer ran; snapshots hold them all', async () => {
    const server = await servers.start({ optimizeDelayMs: 400 });
    const c = (method: string, path: string, body?: unknown) => call(server, method, path, body);
    await c('PUT', '/collections/d', {
      vectors: { size: 2, distance: 'Dot' },
      optimizers_config: { prevent_unoptimized: true, indexing_threshold: 3 },
    });
    const points = Array.from({ length: 5 }, (_, i) => ({ id: i + 1, vector: [i, 1] }));
    await c('PUT', '/collections/d/points?wait=true', { points });
    const info = result(await c('GET', '/collections/d'));
    assert.equal(info.points_count, 3);
    assert.equal(info.status, 'yellow');
    assert.equal(result(await c('POST', '/collections/d/points/count', { exact: true })).count, 3);
    assert.equal(
      (result(await c('POST', '/collections/d/points/scroll', { limit: 10 })).points as []).length,
      3,
    );
    assert.equal(
      ((await c('POST', '/collections/d/points', { ids: [1, 2, 3, 4, 5] })).json.result as []).length,
      3,
    );
    const snap = result(await c('POST', '/collections/d/snapshots')) as { name: string };
    const location = `file://${join(server.snapshotsDir, 'd', snap.name)}`;
    await new Promise((r) => setTimeout(r, 600));
    const settled = result(await c('GET', '/collections/d'));
    assert.equal(settled.points_count, 5);
    assert.equal(settled.status, 'green');
    // the snapshot holds all five; recovered, they are counted once the optimizer ran again
    assert.equal((await c('PUT', '/collections/r/snapshots/recover', { location })).status, 200);
    assert.equal(result(await c('POST', '/collections/r/points/count', { exact: true })).count, 3);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(result(await c('POST', '/collections/r/points/count', { exact: true })).count, 5);
  });
});
