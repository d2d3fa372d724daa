/**
 * Fault injection of the Qdrant test server: each kind happens, then stops after `times`.
 * Every response is validated against Qdrant's OpenAPI spec.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { QdrantTestServer } from './qdrant/index.js';
import { call, raw, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();
let server: QdrantTestServer;
let snapshot: { name: string; size: number; checksum: string };
let file: Buffer;

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, [], 'every response must match the OpenAPI spec');
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const snapshotUrl = () => `${server.url}/collections/col/snapshots/${snapshot.name}`;
const listSnapshots = async () =>
  (await call(server, 'GET', '/collections/col/snapshots')).json.result as {
    name: string;
    checksum?: string | null;
  }[];
const count = () => call(server, 'POST', '/collections/col/points/count', { exact: true });

beforeEach(async () => {
  server = await servers.start();
  await call(server, 'PUT', '/collections/col', { vectors: { size: 2, distance: 'Dot' } });
  await call(server, 'PUT', '/collections/other', { vectors: { size: 2, distance: 'Dot' } });
  const points = Array.from({ length: 2000 }, (_, i) => ({
    id: i,
    vector: [i, -i],
    payload: { text: `p${i}` },
  }));
  await call(server, 'PUT', '/collections/col/points?wait=true', { points });
  snapshot = (await call(server, 'POST', '/collections/col/snapshots')).json.result as typeof snapshot;
  file = await readFile(join(server.snapshotsDir, 'col', snapshot.name));
  assert.ok(file.length > 100_000);
});

describe('fault kinds', () => {
  test('status: Qdrant error envelope, only for the given op/collection, `times` respected', async () => {
    server.inject({
      op: 'count',
      collection: 'col',
      times: 2,
      fault: { kind: 'status', status: 503, message: 'x' },
    });
    const other = await call(server, 'POST', '/collections/other/points/count', {});
    assert.equal(other.status, 200, 'other collection unaffected');
    for (let i = 0; i < 2; i++) {
      const r = await count();
      assert.equal(r.status, 503);
      assert.deepEqual(r.json.status, { error: 'x' });
    }
    assert.equal((await count()).status, 200);
    server.inject({ op: 'any', fault: { kind: 'status', status: 500 } });
    const r = await call(server, 'GET', '/collections');
    assert.equal(r.status, 500);
    assert.equal((r.json.status as { error: string }).error, 'Service internal error: injected fault');
    assert.equal((await call(server, 'GET', '/collections')).status, 200);
  });

  test('slow: delays the answer (and each download chunk), then stops', async () => {
    server.inject({ op: 'count', fault: { kind: 'slow', delayMs: 300 } });
    let t = performance.now();
    assert.equal((await count()).status, 200);
    assert.ok(performance.now() - t >= 290);
    t = performance.now();
    await count();
    assert.ok(performance.now() - t < 250);
    server.inject({ op: 'download-snapshot', fault: { kind: 'slow', delayMs: 20 } });
    t = performance.now();
    const dl = await raw(snapshotUrl());
    assert.deepEqual(dl.body, file);
    const chunks = Math.ceil(file.length / 65536);
    assert.ok(performance.now() - t >= 20 * chunks, `slow per chunk (${chunks} chunks)`);
  });

  test('reset: drops the connection (downloads after afterBytes), then stops', async () => {
    server.inject({ op: 'count', fault: { kind: 'reset' } });
    await assert.rejects(count());
    assert.equal((await count()).status, 200);
    server.inject({ op: 'download-snapshot', times: 2, fault: { kind: 'reset', afterBytes: 70_000 } });
    for (let i = 0; i < 2; i++) {
      const r = await raw(snapshotUrl());
      assert.ok(r.error, 'download fails');
      assert.ok(r.body.length <= 70_000);
    }
    const ok = await raw(snapshotUrl());
    assert.equal(ok.error, undefined);
    assert.deepEqual(ok.body, file);
    // the server records a request's status when its response ends, which can come a moment after
    // the client has read the last byte: wait (bounded) for the bookkeeping, then check
    const statuses = () => server.requests.filter((r) => r.path.endsWith(snapshot.name)).map((r) => r.status);
    for (let i = 0; i < 40 && statuses().includes(0); i++) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(statuses(), [200, 200, 200], 'headers were sent before the reset');
  });

  test('wrong-checksum and null-checksum: reported checksum only, then correct again', async () => {
    server.inject({ op: 'create-snapshot', fault: { kind: 'wrong-checksum' } });
    const created = (await call(server, 'POST', '/collections/col/snapshots')).json.result as typeof snapshot;
    const bytes = await readFile(join(server.snapshotsDir, 'col', created.name));
    assert.notEqual(created.checksum, sha256(bytes));
    assert.match(created.checksum, /^[0-9a-f]{64}$/);
    const real = async () => {
      const list = await listSnapshots();
      const bytes = await Promise.all(list.map((d) => readFile(join(server.snapshotsDir, 'col', d.name))));
      return { list, sums: bytes.map(sha256) };
    };
    let now = await real();
    assert.deepEqual(
      now.list.map((d) => d.checksum),
      now.sums,
      'the list reports the real checksums',
    );
    server.inject({ op: 'list-snapshots', times: 2, fault: { kind: 'null-checksum' } });
    assert.ok((await listSnapshots()).every((d) => d.checksum === null));
    assert.ok((await listSnapshots()).every((d) => d.checksum === null));
    now = await real();
    assert.deepEqual(
      now.list.map((d) => d.checksum),
      now.sums,
    );
    server.inject({ op: 'list-snapshots', fault: { kind: 'wrong-checksum' } });
    const wrong = await listSnapshots();
    assert.ok(wrong.every((d, i) => d.checksum !== now.sums[i] && /^[0-9a-f]{64}$/.test(d.checksum ?? '')));
  });

  test('truncate: full Content-Length, short body, then complete again', async () => {
    server.inject({ op: 'download-snapshot', fault: { kind: 'truncate', afterBytes: 5000 } });
    const cut = await raw(snapshotUrl(), { headers: { 'accept-encoding': 'identity' } });
    assert.equal(cut.headers['content-length'], String(file.length));
    assert.equal(cut.body.length, 5000);
    assert.ok(cut.error);
    const res = await fetch(snapshotUrl(), { headers: { 'accept-encoding': 'identity' } });
    assert.equal(Buffer.from(await res.arrayBuffer()).length, file.length);
  });

  test('compress: gzip even for identity, then plain again', async () => {
    server.inject({ op: 'download-snapshot', fault: { kind: 'compress' } });
    const gz = await raw(snapshotUrl(), { headers: { 'accept-encoding': 'identity' } });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.deepEqual(gunzipSync(gz.body), file);
    const plain = await raw(snapshotUrl(), { headers: { 'accept-encoding': 'identity' } });
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.deepEqual(plain.body, file);
  });

  test('accepted: 202 for wait=true, work still done; then 200', async () => {
    await new Promise((r) => setTimeout(r, 1100)); // next snapshot gets a new name
    server.inject({ op: 'create-snapshot', fault: { kind: 'accepted' } });
    const r = await call(server, 'POST', '/collections/col/snapshots?wait=true');
    assert.equal(r.status, 202);
    assert.deepEqual(Object.keys(r.json).sort(), ['status', 'time']);
    for (let i = 0; i < 100 && (await listSnapshots()).length < 2; i++)
      await new Promise((res) => setTimeout(res, 20));
    assert.equal((await listSnapshots()).length, 2);
    assert.equal((await call(server, 'POST', '/collections/col/snapshots?wait=true')).status, 200);
  });

  test('disk-full: 500 like Qdrant, nothing created; uploads too; then works', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    server.inject({ op: 'create-snapshot', fault: { kind: 'disk-full' } });
    const r = await call(server, 'POST', '/collections/col/snapshots');
    assert.equal(r.status, 500);
    assert.deepEqual(r.json.status, {
      error: 'Service internal error: No space left on device (os error 28)',
    });
    assert.equal((await listSnapshots()).length, 1);
    server.inject({ op: 'upload-snapshot', fault: { kind: 'disk-full' } });
    const form = new FormData();
    form.append('snapshot', new Blob([file]), 'up.snapshot');
    const up = await fetch(`${server.url}/collections/up/snapshots/upload`, { method: 'POST', body: form });
    assert.equal(up.status, 500);
    await up.text();
    assert.deepEqual(server.collections(), ['col', 'other']);
    assert.equal((await call(server, 'POST', '/collections/col/snapshots')).status, 200);
  });

  test('drop-after-commit: work done, connection dropped; then normal', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    server.inject({ op: 'create-snapshot', fault: { kind: 'drop-after-commit' } });
    await assert.rejects(fetch(`${server.url}/collections/col/snapshots?wait=true`, { method: 'POST' }));
    assert.equal((await listSnapshots()).length, 2, 'snapshot was created');
    server.inject({ op: 'upload-snapshot', fault: { kind: 'drop-after-commit' } });
    const form = new FormData();
    form.append('snapshot', new Blob([file]), 'up.snapshot');
    await assert.rejects(
      fetch(`${server.url}/collections/up/snapshots/upload`, { method: 'POST', body: form }),
    );
    assert.equal(server.points('up').length, 2000, 'recovered anyway');
    const again = await fetch(`${server.url}/collections/up2/snapshots/upload`, {
      method: 'POST',
      body: form,
    });
    assert.equal(again.status, 200);
    await again.text();
  });

  test('upload reset after some bytes; Infinity and clearFaults', async () => {
    server.inject({ op: 'upload-snapshot', fault: { kind: 'reset', afterBytes: 50_000 } });
    const form = new FormData();
    form.append('snapshot', new Blob([file]), 'up.snapshot');
    await assert.rejects(
      fetch(`${server.url}/collections/up/snapshots/upload`, { method: 'POST', body: form }),
    );
    assert.deepEqual(server.collections(), ['col', 'other']);
    server.inject({ op: 'count', times: Infinity, fault: { kind: 'status', status: 500 } });
    for (let i = 0; i < 5; i++) assert.equal((await count()).status, 500);
    server.clearFaults();
    assert.equal((await count()).status, 200);
    const up = await fetch(`${server.url}/collections/up/snapshots/upload`, { method: 'POST', body: form });
    assert.equal(up.status, 200);
    await up.text();
    assert.equal(server.points('up').length, 2000);
  });
});
