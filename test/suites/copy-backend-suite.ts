/**
 * The CopyBackend conformance suite (restic's `backend/test`, unstorage's `testDriver`): every
 * backend runs it — memory, folder, S3 on a real server. Failure modes a backend cannot produce
 * (full disk on S3) are left out by not passing the hook; each hook may also skip with a reason.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, type TestContext, test } from 'node:test';
import { QnbError } from '../../src/core/errors.js';
import { createRingFile } from '../../src/core/ring-file.js';
import type { CopyBackend, ObjectInfo } from '../../src/storage/backend.js';

/** How a backend is tested. Every hook gets a fresh, empty target. */
export interface CopyBackendHarness {
  open(t: TestContext): Promise<CopyBackend>;
  /** Size of the large streamed file. @default 160 MiB */
  largeBytes?: number;
  /** Largest RSS growth allowed while streaming the large file. @default 96 MiB */
  memoryBound?: number;
  /** Leftovers of interrupted puts the backend keeps out of `list` (temp files, unfinished uploads). */
  leftovers?(backend: CopyBackend): Promise<string[]>;
  /** The same target with a wrong secret (returned too, to check it is never shown). */
  wrongCredentials?(t: TestContext): Promise<{ backend: CopyBackend; secret: string }>;
  /** A target whose bucket / folder does not exist. */
  missingContainer?(t: TestContext): Promise<CopyBackend>;
  /** A target that can be read but not written; a string skips with that reason. */
  readOnly?(t: TestContext): Promise<CopyBackend | string>;
  /** A target with almost no free space; a string skips with that reason. */
  fullDisk?(t: TestContext): Promise<{ backend: CopyBackend; freeBytes: number } | string>;
  /** The backend has `getToFile` (its conformance test runs). */
  getToFile?: boolean;
  /** More tests for this backend only. */
  extra?(): void;
}

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const body = (b: Buffer | string) => Readable.from([Buffer.from(b)]);

async function readAll(backend: CopyBackend, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await backend.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function keys(backend: CopyBackend, prefix = ''): Promise<string[]> {
  const out: ObjectInfo[] = [];
  for await (const o of backend.list(prefix)) out.push(o);
  return out.map((o) => o.key);
}

async function put(backend: CopyBackend, key: string, data: Buffer | string) {
  const b = Buffer.from(data);
  return backend.put(key, body(b), { size: b.length, sha256: sha(b) });
}

/** A deterministic stream of `size` bytes in 1 MiB chunks (different every MiB), and its sha256. */
export function bigStream(size: number, seed = 1): { make(): Readable; sha256: string } {
  const block = createHash('sha512').update(String(seed)).digest();
  const base = Buffer.alloc(1 << 20);
  for (let i = 0; i < base.length; i += block.length) block.copy(base, i);
  const chunks = function* () {
    for (let off = 0, i = 0; off < size; off += base.length, i++) {
      const c = Buffer.from(base.subarray(0, Math.min(base.length, size - off)));
      c.writeUInt32BE(i, 0);
      yield c;
    }
  };
  const h = createHash('sha256');
  for (const c of chunks()) h.update(c);
  return { make: () => Readable.from(chunks(), { objectMode: false }), sha256: h.digest('hex') };
}

async function rejectsWith(p: Promise<unknown>, codes: string[], re?: RegExp): Promise<QnbError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof QnbError, `expected a QnbError, got ${String(err)}`);
    assert.ok(codes.includes(err.code), `code ${err.code} (${err.message}) not in ${codes.join(', ')}`);
    if (re) assert.match(err.message, re);
    return err;
  }
  assert.fail('expected a rejection');
}

/** Registers the suite for one backend. */
export function copyBackendSuite(name: string, h: CopyBackendHarness): void {
  describe(`CopyBackend conformance: ${name}`, { timeout: 300_000 }, () => {
    test('put, stat, get round trip; properties', async (t) => {
      const b = await h.open(t);
      const props = b.properties();
      assert.equal(props.location, b.name);
      assert.ok(props.verification.length > 10);
      const data = `hello ${randomBytes(8).toString('hex')}`;
      const info = await put(b, 'qdrant/a.snapshot', data);
      assert.equal(info.size, Buffer.byteLength(data));
      const st = await b.stat('qdrant/a.snapshot');
      assert.equal(st?.size, Buffer.byteLength(data));
      if (props.storesSha256) assert.equal(st?.sha256, sha(data));
      assert.equal((await readAll(b, 'qdrant/a.snapshot')).toString(), data);
    });

    test('a missing key: stat is undefined, get is E_NOT_FOUND, remove succeeds', async (t) => {
      const b = await h.open(t);
      await put(b, 'sets/one.json', '{}');
      assert.equal(await b.stat('sets/none.json'), undefined);
      await rejectsWith(b.get('sets/none.json'), ['E_NOT_FOUND']);
      await b.remove('sets/none.json');
    });

    test('list: prefix, order, sizes, nothing else', async (t) => {
      const b = await h.open(t);
      assert.deepEqual(await keys(b), []);
      for (const k of [
        'sets/b.json',
        'sets/a.json',
        'qdrant/x-1.snapshot',
        'neo4j/n.dump',
        'qdrant/x.snapshot',
      ])
        await put(b, k, k);
      assert.deepEqual(await keys(b, 'sets/'), ['sets/a.json', 'sets/b.json']);
      assert.deepEqual(await keys(b, 'qdrant/x'), ['qdrant/x-1.snapshot', 'qdrant/x.snapshot']);
      assert.deepEqual(await keys(b, 'nothing/'), []);
      assert.deepEqual(await keys(b), [
        'neo4j/n.dump',
        'qdrant/x-1.snapshot',
        'qdrant/x.snapshot',
        'sets/a.json',
        'sets/b.json',
      ]);
      for await (const o of b.list('neo4j/')) assert.equal(o.size, 'neo4j/n.dump'.length);
    });

    test('put replaces; remove deletes and is idempotent', async (t) => {
      const b = await h.open(t);
      await put(b, 'sets/s.json', 'first');
      await put(b, 'sets/s.json', 'second, longer');
      assert.equal((await readAll(b, 'sets/s.json')).toString(), 'second, longer');
      await b.remove('sets/s.json');
      await b.remove('sets/s.json');
      assert.equal(await b.stat('sets/s.json'), undefined);
      assert.deepEqual(await keys(b), []);
    });

    test('a zero-byte object', async (t) => {
      const b = await h.open(t);
      await put(b, 'neo4j/empty.dump', '');
      assert.equal((await b.stat('neo4j/empty.dump'))?.size, 0);
      assert.equal((await readAll(b, 'neo4j/empty.dump')).length, 0);
    });

    test('invalid keys are refused before anything is touched', async (t) => {
      const b = await h.open(t);
      for (const k of ['', '/abs', '../up', 'a//b', 'a/./b', 'sets/.qnb-tmp-x']) {
        await rejectsWith(put(b, k, 'x'), ['E_INTERNAL'], /invalid storage key/);
      }
    });

    test('wrong sha256 or size: E_CHECKSUM, nothing new visible, the old object stays', async (t) => {
      const b = await h.open(t);
      await put(b, 'qdrant/keep.snapshot', 'original');
      const data = Buffer.from('replacement bytes');
      await rejectsWith(
        b.put('qdrant/keep.snapshot', body(data), { size: data.length, sha256: sha('other') }),
        ['E_CHECKSUM'],
      );
      await rejectsWith(
        b.put('qdrant/new.snapshot', body(data), { size: data.length + 5, sha256: sha(data) }),
        ['E_CHECKSUM'],
      );
      assert.equal((await readAll(b, 'qdrant/keep.snapshot')).toString(), 'original');
      assert.equal(await b.stat('qdrant/new.snapshot'), undefined);
      assert.deepEqual(await keys(b), ['qdrant/keep.snapshot']);
      if (h.leftovers) assert.deepEqual(await h.leftovers(b), []);
    });

    test('interrupted upload (abort, source error): nothing visible, no leftovers, the next put works', async (t) => {
      const b = await h.open(t);
      const size = 24 * 1024 * 1024;
      const big = bigStream(size, 7);
      // the source aborts the put once a third has been sent, so every backend is caught mid-way
      const ac = new AbortController();
      const aborting = Readable.from(
        (async function* () {
          let sent = 0;
          for await (const c of big.make()) {
            if (sent > size / 3 && !ac.signal.aborted) {
              ac.abort();
              await new Promise((r) => setTimeout(r, 50));
            }
            sent += (c as Buffer).length;
            yield c as Buffer;
          }
        })(),
      );
      await rejectsWith(b.put('neo4j/big.dump', aborting, { size, sha256: big.sha256, signal: ac.signal }), [
        'E_INTERRUPTED',
      ]);
      const broken = Readable.from(
        (async function* () {
          yield Buffer.alloc(6 * 1024 * 1024, 1);
          yield Buffer.alloc(6 * 1024 * 1024, 2);
          throw new Error('disk read error');
        })(),
      );
      await assert.rejects(b.put('neo4j/big.dump', broken, { size, sha256: big.sha256 }));
      assert.equal(await b.stat('neo4j/big.dump'), undefined);
      assert.deepEqual(await keys(b), []);
      if (h.leftovers) assert.deepEqual(await h.leftovers(b), []);
      await b.put('neo4j/big.dump', big.make(), { size, sha256: big.sha256 });
      assert.equal((await b.stat('neo4j/big.dump'))?.size, size);
    });

    if (h.getToFile)
      test('getToFile: a new file fsynced, the size and sha256 of the object; a sink; nothing for a missing key', async (t) => {
        const b = await h.open(t);
        assert.ok(b.getToFile, `${name} has getToFile`);
        const dir = await mkdtemp(join(tmpdir(), 'qnb-gtf-'));
        t.after(() => rm(dir, { recursive: true, force: true }));
        const size = 9 * 1024 * 1024 + 333;
        const big = bigStream(size, 5);
        await b.put('qdrant/g.snapshot', big.make(), { size, sha256: big.sha256 });
        const out = join(dir, 'g.snapshot');
        const got = await b.getToFile('qdrant/g.snapshot', out, { expectedBytes: size });
        assert.deepEqual(got, { bytes: size, sha256: big.sha256 });
        assert.equal(sha(await readFile(out)), big.sha256);
        assert.equal((await stat(out)).mode & 0o777, 0o600);
        await rejectsWith(b.getToFile('qdrant/g.snapshot', out), ['E_IO'], /exists/);
        // a sink without a file: the bytes are hashed, nothing is written
        const hashed = await b.getToFile('qdrant/g.snapshot', join(dir, 'none'), {
          sink: (_p, o) => createRingFile(undefined, o),
        });
        assert.deepEqual(hashed, { bytes: size, sha256: big.sha256 });
        assert.deepEqual(await readdir(dir), ['g.snapshot']);
        const missing = await b.getToFile('qdrant/missing.snapshot', join(dir, 'm')).catch((e: Error) => e);
        assert.ok(missing === undefined || missing instanceof QnbError, String(missing));
        assert.deepEqual(await readdir(dir), ['g.snapshot'], 'nothing created for a missing key');
      });

    test('a large file streams through with bounded memory, both ways', async (t) => {
      const b = await h.open(t);
      const size = h.largeBytes ?? 160 * 1024 * 1024;
      const bound = h.memoryBound ?? 96 * 1024 * 1024;
      const big = bigStream(size, 3);
      const base = process.memoryUsage().rss;
      let peak = base;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 10);
      try {
        await b.put('qdrant/large.snapshot', big.make(), { size, sha256: big.sha256 });
        const hash = createHash('sha256');
        let n = 0;
        for await (const c of await b.get('qdrant/large.snapshot')) {
          hash.update(c as Buffer);
          n += (c as Buffer).length;
        }
        assert.equal(n, size);
        assert.equal(hash.digest('hex'), big.sha256);
      } finally {
        clearInterval(timer);
      }
      const grew = peak - base;
      t.diagnostic(`${name}: ${size / 2 ** 20} MiB streamed; RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
      assert.ok(
        grew < bound,
        `RSS grew by ${(grew / 2 ** 20).toFixed(1)} MiB (bound ${bound / 2 ** 20} MiB)`,
      );
    });

    if (h.wrongCredentials) {
      const open = h.wrongCredentials;
      test('wrong credentials: E_AUTH on every call, no secret in the message', async (t) => {
        const { backend: b, secret } = await open(t);
        const errors = [
          await rejectsWith(keys(b), ['E_AUTH'], /credentials rejected/),
          await rejectsWith(put(b, 'sets/x.json', '{}'), ['E_AUTH']),
          await rejectsWith(b.get('sets/x.json'), ['E_AUTH']),
        ];
        for (const e of errors) assert.ok(!`${e.message} ${e.hint}`.includes(secret));
      });
    }

    if (h.missingContainer) {
      const open = h.missingContainer;
      test('a missing bucket or folder: E_NOT_FOUND naming it, never created', async (t) => {
        const b = await open(t);
        await rejectsWith(keys(b), ['E_NOT_FOUND'], /not found|does not exist/);
        await rejectsWith(put(b, 'sets/x.json', '{}'), ['E_NOT_FOUND']);
        await rejectsWith(b.stat('sets/x.json'), ['E_NOT_FOUND']);
      });
    }

    if (h.readOnly) {
      const open = h.readOnly;
      test('a read-only target: put fails clearly, nothing visible', async (t) => {
        const b = await open(t);
        if (typeof b === 'string') return t.skip(b);
        await rejectsWith(
          put(b, 'sets/x.json', '{}'),
          ['E_IO', 'E_AUTH'],
          /read-only|permission|denied|forbidden/,
        );
        assert.equal(await b.stat('sets/x.json'), undefined);
      });
    }

    if (h.fullDisk) {
      const open = h.fullDisk;
      test('a full disk: E_IO "no space left", nothing visible, no leftovers', async (t) => {
        const got = await open(t);
        if (typeof got === 'string') return t.skip(got);
        const { backend: b, freeBytes } = got;
        const size = freeBytes + 1024 * 1024;
        const big = bigStream(size, 5);
        await rejectsWith(
          b.put('qdrant/too-big.snapshot', big.make(), { size, sha256: big.sha256 }),
          ['E_IO'],
          /no space left/,
        );
        assert.deepEqual(await keys(b), []);
        if (h.leftovers) assert.deepEqual(await h.leftovers(b), []);
        await put(b, 'sets/small.json', '{"fits":true}');
      });
    }

    h.extra?.();
  });
}
