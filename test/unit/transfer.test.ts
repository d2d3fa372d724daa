import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { open, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { QnbError } from '../../src/core/errors.js';
import { durableFileWriter } from '../../src/core/file-writer.js';
import { streamToFile } from '../../src/core/transfer.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Chunks of uneven sizes (1 byte to 3 MiB), as Buffers, Uint8Arrays and strings. */
function unevenChunks(): { chunks: (Buffer | Uint8Array | string)[]; whole: Buffer } {
  const chunks: (Buffer | Uint8Array | string)[] = [];
  let seed = 7;
  for (const size of [1, 65536, 3 << 20, 17, 1 << 20, 999_999, 2, 65535]) {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4093) b[i] = seed++ & 0xff;
    chunks.push(chunks.length % 3 === 1 ? new Uint8Array(b) : b);
  }
  chunks.push('text chunk ✓');
  const whole = Buffer.concat(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c)));
  return { chunks, whole };
}

test('streamToFile writes every byte, hashes them, reports progress and makes a 0600 file', async (t) => {
  const dir = await tempDir(t);
  const { chunks, whole } = unevenChunks();
  const progress: number[] = [];
  const res = await streamToFile(Readable.from(chunks), join(dir, 'out'), {
    onProgress: (b) => progress.push(b),
  });
  assert.equal(res.bytes, whole.length);
  assert.equal(res.sha256, sha256(whole));
  assert.ok((await readFile(join(dir, 'out'))).equals(whole));
  assert.equal((await stat(join(dir, 'out'))).mode & 0o777, 0o600);
  assert.equal(progress.at(-1), whole.length);
});

test('streamToFile hashes the decoded bytes of a compressed body', async (t) => {
  const dir = await tempDir(t);
  const plain = Buffer.from('snapshot bytes '.repeat(100_000));
  const res = await streamToFile(Readable.from([gzipSync(plain)]), join(dir, 'out'), { encoding: 'gzip' });
  assert.deepEqual(res, { bytes: plain.length, sha256: sha256(plain) });
  assert.ok((await readFile(join(dir, 'out'))).equals(plain));
});

test('streamToFile refuses to replace an existing file', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'out'), 'keep');
  await assert.rejects(
    streamToFile(Readable.from([Buffer.from('new')]), join(dir, 'out')),
    (e: unknown) => e instanceof QnbError && e.code === 'E_IO',
  );
  assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'keep');
});

test('streamToFile passes on a source that breaks off, and an abort', async (t) => {
  const dir = await tempDir(t);
  async function* breaking() {
    for (let i = 0; i < 5; i++) yield Buffer.alloc(700_000, i);
    throw new Error('socket hang up');
  }
  await assert.rejects(streamToFile(Readable.from(breaking()), join(dir, 'a')), /socket hang up/);
  const controller = new AbortController();
  async function* endless() {
    for (let i = 0; ; i++) {
      if (i === 3) controller.abort();
      yield Buffer.alloc(1 << 20, i);
    }
  }
  await assert.rejects(
    streamToFile(Readable.from(endless()), join(dir, 'b'), { signal: controller.signal }),
    (e: Error) => e.name === 'AbortError',
  );
});

test('streamToFile hashes exactly the bytes on disk across background syncs', async (t) => {
  const dir = await tempDir(t);
  // 40 MiB in 64 KiB chunks through the 8 × 1 MiB pool: the source is paused many times
  const hash = createHash('sha256');
  async function* chunks() {
    for (let i = 0; i < 640; i++) {
      const b = Buffer.alloc(65536, i & 0xff);
      b.writeUInt32BE(i, 0);
      hash.update(b);
      yield b;
    }
  }
  const res = await streamToFile(Readable.from(chunks()), join(dir, 'big'));
  assert.equal(res.bytes, 640 * 65536);
  assert.equal(res.sha256, hash.digest('hex'));
  assert.equal(sha256(await readFile(join(dir, 'big'))), res.sha256);
});

test('durableFileWriter: a write error fails the stream with its errno, background syncs included', async () => {
  const fh = await open('/dev/full', 'w');
  try {
    const w = durableFileWriter(fh, 1 << 20);
    await assert.rejects(
      pipeline(Readable.from([Buffer.alloc(3 << 20, 1)]), w),
      (e: NodeJS.ErrnoException) => e.code === 'ENOSPC' && /^write/.test(e.syscall ?? ''),
    );
    await w.settled();
  } finally {
    await fh.close();
  }
});

test('durableFileWriter flushes in the background while writing and fsyncs once at the end', async (t) => {
  const dir = await tempDir(t);
  const fh = await open(join(dir, 'f'), 'wx');
  const calls: string[] = [];
  const spy = new Proxy(fh, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (prop === 'datasync' || prop === 'sync') calls.push(String(prop));
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  try {
    // a background sync starts once 4 MiB are written and none is running (how many: disk speed)
    const w = durableFileWriter(spy, 4 << 20);
    await pipeline(Readable.from(Array.from({ length: 20 }, () => Buffer.alloc(1 << 20, 3))), w);
    assert.ok(calls.filter((c) => c === 'datasync').length >= 1, calls.join());
    assert.equal(calls.at(-1), 'sync', 'the final fsync comes last');
    assert.equal((await fh.stat()).size, 20 << 20);
  } finally {
    await fh.close();
  }
});
