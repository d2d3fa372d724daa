/**
 * Parallel S3 transfers on a real S3 server (versitygw): a multipart upload sends several parts at
 * once and a download reads several ranges at once, both with bounded memory and the bytes intact
 * at every range boundary; a range that breaks off mid-way fails the restore with a clear error and
 * leaves no file in the backups folder; a listing page that says more follows without a token fails
 * the listing. The client's request handler is wrapped only to count the
 * requests on the wire and, in one test, to cut one range's body after its first MiB (as a dropped
 * connection does); the bytes come from and go to the real server.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { copySets } from '../../src/core/copy.js';
import { silentReporter } from '../../src/core/events.js';
import { fetchSet } from '../../src/core/remote-fetch.js';
import { createRepository } from '../../src/core/repository.js';
import type { S3Backend } from '../../src/storage/s3/s3-backend.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-config.js';
import { IN_CI } from '../helpers/components.js';
import { backendThrough, type S3Handler } from '../helpers/s3-handler.js';
import { tempDir } from '../helpers/tmp.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';
import { bigStream } from '../suites/copy-backend-suite.js';
import { syntheticRepository } from '../suites/copy-fixtures.js';

const avail = s3ServerAvailable();
if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);
let server: S3TestServer | undefined;
after(async () => server?.stop());

/** What went over the wire. */
interface Wire {
  maxParts: number;
  maxRanges: number;
  /** Range headers of the GETs, in order. */
  ranges: string[];
  /** Bytes the client has read of each range's body so far, by Range header. */
  read: Record<string, number>;
  /** A ranged GET starting at this byte sends its first MiB, then breaks off. */
  cutAt?: number;
}

async function backendOn(t: { after(fn: () => unknown): void }): Promise<{ backend: S3Backend; wire: Wire }> {
  server ??= await startS3TestServer();
  const wire: Wire = { maxParts: 0, maxRanges: 0, ranges: [], read: {} };
  let parts = 0;
  let ranges = 0;
  const backend = await backendThrough(t, server, (real) => ({
    async handle(req, o) {
      const range = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === 'range')?.[1];
      if (req.query?.partNumber !== undefined) {
        wire.maxParts = Math.max(wire.maxParts, ++parts);
        return real.handle(req, o).finally(() => parts--);
      }
      if (!range || req.method !== 'GET') return real.handle(req, o);
      wire.ranges.push(range);
      wire.maxRanges = Math.max(wire.maxRanges, ++ranges);
      let res: Awaited<ReturnType<S3Handler['handle']>>;
      try {
        res = await real.handle(req, o);
      } catch (e) {
        ranges--;
        throw e;
      }
      const body = res.response.body as Readable;
      const cut = wire.cutAt !== undefined && range.startsWith(`bytes=${wire.cutAt}-`);
      res.response.body = Readable.from(
        (async function* () {
          let n = 0;
          try {
            for await (const c of body) {
              if (cut && n + c.length > 1 << 20) {
                body.destroy();
                throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
              }
              n += c.length;
              wire.read[range] = n;
              yield c;
            }
          } finally {
            ranges--;
          }
        })(),
      );
      return res;
    },
    destroy: () => real.destroy?.(),
  }));
  return { backend, wire };
}

async function readAll(s: Readable): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of s) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha256: h.digest('hex') };
}

/** A backend through the counting wrapper, holding one object of `size` bytes at `key`. */
async function withObject(t: { after(fn: () => unknown): void }, key: string, size: number, seed: number) {
  const { backend, wire } = await backendOn(t);
  const data = bigStream(size, seed);
  await backend.put(key, data.make(), { size, sha256: data.sha256 });
  return { backend, wire, data };
}

test('parts go up several at a time and ranges come down several at a time; every boundary intact', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const size = 4 * MIN_PART_SIZE + 12_345;
  const { backend, wire, data } = await withObject(t, 'qdrant/big.snapshot', size, 7);
  assert.ok(wire.maxParts > 1, `parts in flight at once: ${wire.maxParts}`);
  assert.ok(wire.maxParts <= 4, 'never more than the configured concurrency');

  wire.ranges.length = 0;
  const got = await readAll(await backend.get('qdrant/big.snapshot'));
  assert.deepEqual(got, { bytes: size, sha256: data.sha256 }, 'the object comes back intact');
  assert.equal(wire.ranges.length, 5, `one request per 5 MiB range: ${wire.ranges.join(', ')}`);
  assert.equal(wire.ranges.at(-1), `bytes=${4 * MIN_PART_SIZE}-${size - 1}`);
  assert.ok(wire.maxRanges > 1 && wire.maxRanges <= 4, `ranges in flight at once: ${wire.maxRanges}`);

  // sizes at the range boundaries, an empty object and a small one (one request each when they fit)
  for (const n of [0, 100, MIN_PART_SIZE - 1, MIN_PART_SIZE, MIN_PART_SIZE + 1, 2 * MIN_PART_SIZE]) {
    const d = randomBytes(n);
    const sha256 = createHash('sha256').update(d).digest('hex');
    await backend.put(`b/${n}`, Readable.from([d]), { size: n, sha256 });
    wire.ranges.length = 0;
    assert.deepEqual(await readAll(await backend.get(`b/${n}`)), { bytes: n, sha256 }, `${n} bytes`);
    assert.equal(wire.ranges.length, Math.max(1, Math.ceil(n / MIN_PART_SIZE)), `${n} bytes: ranges asked`);
  }
});

test('a reader that pauses: the later ranges wait unread on the server side, nothing is read ahead', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const size = 4 * MIN_PART_SIZE + 5;
  const { backend, wire, data } = await withObject(t, 'qdrant/slow.snapshot', size, 3);
  wire.ranges.length = 0;
  const s = await backend.get('qdrant/slow.snapshot');
  const it = s[Symbol.asyncIterator]();
  const h = createHash('sha256');
  let got = 0;
  while (got < 1 << 20) {
    const c = (await it.next()).value as Buffer;
    h.update(c);
    got += c.length;
  }
  // the reader stops for a while: the ranges asked after the first are open, but their bytes stay
  // in their sockets (at most `concurrency` requests, the one being read included)
  await new Promise((r) => setTimeout(r, 300));
  const later = wire.ranges.filter((r) => !r.startsWith('bytes=0-'));
  assert.ok(later.length >= 1 && wire.ranges.length <= 4, `ranges asked: ${wire.ranges.join(', ')}`);
  for (const r of later) assert.equal(wire.read[r] ?? 0, 0, `${r}: read ahead ${wire.read[r]} bytes`);
  // and the whole object still comes back intact
  let bytes = 0;
  for (let r = await it.next(); !r.done; r = await it.next()) {
    h.update(r.value as Buffer);
    bytes += (r.value as Buffer).length;
  }
  assert.deepEqual({ bytes: got + bytes, sha256: h.digest('hex') }, { bytes: size, sha256: data.sha256 });
  assert.equal(wire.ranges.length, 5);
});

test('a range that breaks off mid-way: the restore fails naming the object, no file is left or trusted', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { backend, wire } = await backendOn(t);
  const dir = await tempDir(t);
  const bytes = 3 * MIN_PART_SIZE + 777;
  await syntheticRepository(join(dir, 'backups'), { sets: 1, bytes });
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  assert.equal((await copySets(createRepository(join(dir, 'backups')), backend, ctx)).ok, true);

  const restoreRoot = join(dir, 'restore');
  const repo = createRepository(restoreRoot);
  await repo.init();
  wire.cutAt = 2 * MIN_PART_SIZE;
  wire.ranges.length = 0;
  await assert.rejects(
    fetchSet(repo, backend, backend.name, { latest: true }, ctx),
    (e: { code?: string; message: string }) =>
      e.code === 'E_CONNECT' && /get qdrant\/.*\.snapshot/.test(e.message) && !/undefined/.test(e.message),
  );
  assert.ok(
    wire.ranges.some((r) => r.startsWith(`bytes=${2 * MIN_PART_SIZE}-`)),
    'the broken range was asked',
  );
  const files = await readdir(restoreRoot, { recursive: true });
  assert.deepEqual(
    files.filter((f) => /\.(snapshot|dump)/.test(f)),
    [],
    `nothing downloaded stays: ${files.join(', ')}`,
  );
  assert.equal((await repo.scan()).artifacts.length, 0, 'no artifact in the backups folder');

  // the same copy, read again without the fault, restores
  wire.cutAt = undefined;
  const ok = await fetchSet(repo, backend, backend.name, { latest: true }, ctx);
  assert.ok(ok, 'restores once the connection holds');
  assert.equal((await repo.scan()).artifacts.filter((a) => a.valid).length, 2);
});

test('a part whose bytes change on the wire is refused by the server: the copy fails, no object, no upload left; each part carries its sha256 twice, no MD5', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  server ??= await startS3TestServer();
  /** Headers of the part requests, as sent. */
  const sent: Record<string, string>[] = [];
  const backend = await backendThrough(t, server, (real) => ({
    handle(req, o) {
      if (req.query?.partNumber === undefined) return real.handle(req, o);
      sent.push({ ...req.headers });
      if (String(req.query.partNumber) !== '2') return real.handle(req, o);
      // one byte flipped after the request was signed, as a faulty proxy or NIC would
      const body = Buffer.from(req.body as Uint8Array);
      body[12_345] = (body[12_345] ?? 0) ^ 0xff;
      return real.handle({ ...req, body }, o);
    },
    destroy: () => real.destroy?.(),
  }));
  const size = 3 * MIN_PART_SIZE + 99;
  const data = bigStream(size, 11);
  await assert.rejects(
    backend.put('qdrant/flipped.snapshot', data.make(), { size, sha256: data.sha256 }),
    (e: { code?: string; message: string }) =>
      e.code === 'E_CHECKSUM' &&
      /put qdrant\/flipped\.snapshot: the server received different bytes than were sent/.test(e.message),
  );
  // each part goes with one sha256 of its bytes, twice: as its SigV4 signed payload hash
  // (x-amz-content-sha256) and as x-amz-checksum-sha256 (which S3 requires on Object Lock
  // buckets); no Content-MD5, no checksum trailer
  const header = (h: Record<string, string>, name: string) =>
    Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  assert.ok(sent.length >= 2, `part requests: ${sent.length}`);
  for (const h of sent) {
    const hex = header(h, 'x-amz-content-sha256') ?? '';
    assert.match(hex, /^[0-9a-f]{64}$/, 'each part signed with its sha256');
    assert.equal(header(h, 'x-amz-checksum-sha256'), Buffer.from(hex, 'hex').toString('base64'));
    assert.equal(header(h, 'content-md5'), undefined, 'no Content-MD5');
    assert.equal(header(h, 'x-amz-trailer'), undefined, 'no checksum trailer');
    const others = Object.keys(h).filter(
      (k) => /^x-amz-checksum-/i.test(k) && k.toLowerCase() !== 'x-amz-checksum-sha256',
    );
    assert.deepEqual(others, [], 'no other checksum header');
  }
  assert.equal(await backend.stat('qdrant/flipped.snapshot'), undefined, 'no object');
  assert.deepEqual(await backend.incompleteUploads(), [], 'the upload was aborted');
});

test('a listing page that says more follows but gives no token fails the listing instead of ending it early', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  server ??= await startS3TestServer();
  let broken = false;
  const backend = await backendThrough(t, server, (real) => ({
    async handle(req, o) {
      const res = await real.handle(req, o);
      if (!broken || req.method !== 'GET' || req.query?.['list-type'] !== '2') return res;
      // the real server's page, with IsTruncated set and no continuation token (as a server
      // whose paging is broken answers)
      const chunks: Buffer[] = [];
      for await (const c of res.response.body as AsyncIterable<Buffer>) chunks.push(Buffer.from(c));
      const xml = Buffer.concat(chunks)
        .toString('utf8')
        .replace(/<IsTruncated>false<\/IsTruncated>/, '<IsTruncated>true</IsTruncated>')
        .replace(/<NextContinuationToken>[^<]*<\/NextContinuationToken>/, '');
      const headers = { ...(res.response as { headers?: Record<string, string> }).headers };
      delete headers['content-length'];
      return { response: { ...res.response, headers, body: Readable.from([Buffer.from(xml)]) } };
    },
    destroy: () => real.destroy?.(),
  }));
  const data = bigStream(1000, 3);
  await backend.put('qdrant/a.snapshot', data.make(), { size: 1000, sha256: data.sha256 });
  const keys: string[] = [];
  for await (const o of backend.list('')) keys.push(o.key);
  assert.deepEqual(keys, ['qdrant/a.snapshot']);
  broken = true;
  await assert.rejects(
    (async () => {
      for await (const _ of backend.list('')) {
      }
    })(),
    (e: { code?: string; message: string }) =>
      e.code === 'E_SERVER' && /listing goes on but gave no continuation token/.test(e.message),
  );
});
