/**
 * Large snapshots: padding makes a snapshot big; creating, downloading and uploading it is
 * streamed end to end (RSS stays small) and the padding never changes the recovered points.
 * The padding is the collection's data, written once; snapshots archive it (as Qdrant archives
 * segment files), they do not generate it.
 * Size: QNB_QDRANT_PADDING_MB (default 256; set 2048 for the 2 GB check).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream } from 'node:stream/web';
import { after, test } from 'node:test';
import tar from 'tar-stream';
import { call, uploadFile, ValidatedServers } from './qdrant/testing.js';

const servers = new ValidatedServers();
const MB = 1024 * 1024;
const paddingMb = Number(process.env.QNB_QDRANT_PADDING_MB ?? 256);

after(async () => {
  await servers.stopAll();
  assert.deepEqual(servers.violations, []);
});

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

test(`a ${paddingMb} MB snapshot is streamed everywhere and recovers the same points`, {
  timeout: 600_000,
}, async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'qdrant-padding-'));
  const server = await servers.start();
  try {
    await call(server, 'PUT', '/collections/big', { vectors: { size: 8, distance: 'Euclid' } });
    const points = Array.from({ length: 500 }, (_, i) => ({
      id: i,
      vector: Array.from({ length: 8 }, (_, j) => i + j / 10),
      payload: { i },
    }));
    await call(server, 'PUT', '/collections/big/points?wait=true', { points });
    await server.setSnapshotPadding('big', paddingMb * MB);

    global.gc?.();
    const base = process.memoryUsage().rss;
    let peak = base;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 10);
    try {
      const created = await call(server, 'POST', '/collections/big/snapshots?wait=true');
      const desc = created.json.result as { name: string; size: number; checksum: string };
      assert.ok(desc.size > paddingMb * MB);

      const res = await fetch(`${server.url}/collections/big/snapshots/${desc.name}`, {
        headers: { 'accept-encoding': 'identity' },
      });
      assert.equal(res.headers.get('content-length'), String(desc.size));
      const hash = createHash('sha256');
      const file = join(work, 'big.snapshot');
      await pipeline(
        Readable.fromWeb(res.body as ReadableStream),
        new Transform({
          transform(chunk: Buffer, _e, cb) {
            hash.update(chunk);
            cb(null, chunk);
          },
        }),
        createWriteStream(file),
      );
      assert.equal(hash.digest('hex'), desc.checksum);
      assert.equal((await stat(file)).size, desc.size);

      const q = `priority=snapshot&checksum=${desc.checksum}`;
      const up = await uploadFile(
        `${server.url}/collections/copy/snapshots/upload?${q}`,
        file,
        'big-restore.snapshot',
      );
      assert.equal(up.status, 200, up.body);
      assert.equal(await hashFile(join(server.snapshotsDir, 'copy', 'big-restore.snapshot')), desc.checksum);
    } finally {
      clearInterval(timer);
    }
    assert.deepEqual(server.points('copy'), server.points('big'));
    const grew = (peak - base) / MB;
    t.diagnostic(`RSS grew ${grew.toFixed(0)} MB (server + test client in one process)`);
    assert.ok(grew < 150, `RSS grew ${grew.toFixed(0)} MB for a ${paddingMb} MB snapshot`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
});

/** sha256 of one entry of a tar file. */
async function entryHash(tarPath: string, name: string): Promise<string | undefined> {
  const extract = tar.extract();
  createReadStream(tarPath).pipe(extract);
  let found: string | undefined;
  for await (const entry of extract) {
    const h = createHash('sha256');
    for await (const c of entry) h.update(c as Buffer);
    if (entry.header.name.replace(/^\.\//, '') === name) found = h.digest('hex');
  }
  return found;
}

test('the padding is written once, like segment data, and every snapshot archives those bytes', async () => {
  const server = await servers.start();
  await call(server, 'PUT', '/collections/data', { vectors: { size: 2, distance: 'Dot' } });
  await call(server, 'PUT', '/collections/data/points?wait=true', {
    points: [{ id: 1, vector: [1, 2], payload: { a: 1 } }],
  });
  await server.setSnapshotPadding('data', 3 * MB + 123);
  const segments = join(server.dataDir, 'segments');
  const files = await readdir(segments);
  assert.equal(files.length, 1, 'one data file for the collection');
  const data = join(segments, files[0] as string);
  assert.equal((await stat(data)).size, 3 * MB + 123);
  const want = await hashFile(data);
  for (let i = 0; i < 2; i++) {
    const created = await call(server, 'POST', '/collections/data/snapshots?wait=true');
    const desc = created.json.result as { name: string; checksum: string };
    const path = join(server.snapshotsDir, 'data', desc.name);
    assert.equal(await entryHash(path, 'padding.bin'), want, `snapshot ${i + 1} archives the data file`);
    assert.equal(await hashFile(path), desc.checksum);
    await call(server, 'DELETE', `/collections/data/snapshots/${desc.name}?wait=true`);
  }
  await server.setSnapshotPadding('data', 0);
  const created = await call(server, 'POST', '/collections/data/snapshots?wait=true');
  const desc = created.json.result as { name: string };
  assert.equal(await entryHash(join(server.snapshotsDir, 'data', desc.name), 'padding.bin'), undefined);
});
