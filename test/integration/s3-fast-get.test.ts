/**
 * The raw-socket S3 restore download (storage/s3/s3-fast-get.ts) against a real S3 server
 * (versitygw), which verifies every signature: the bytes of every range in order into one file,
 * `restore --from` taking that path, an object replaced mid-read (412), a range cut short, an
 * abort, and every answer it must leave to the SDK (https, errors, an empty object, a compressed
 * body) before any file exists. Faults on the wire come from a TCP proxy in front of the server
 * (test/helpers/tcp-proxy.ts); the bytes are the server's.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { openHeader } from '../../src/core/age.js';
import { copySets } from '../../src/core/copy.js';
import { QnbError } from '../../src/core/errors.js';
import { silentReporter } from '../../src/core/events.js';
import { fetchSet } from '../../src/core/remote-fetch.js';
import { verifyRemote } from '../../src/core/remote-verify.js';
import { createRepository } from '../../src/core/repository.js';
import { createRingDecrypt, type RingDecrypt } from '../../src/core/ring-age.js';
import type { StreamResult } from '../../src/core/transfer.js';
import type { CopyBackend } from '../../src/storage/backend.js';
import { createS3Backend, type S3Backend } from '../../src/storage/s3/s3-backend.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-config.js';
import { type FastGet, s3GetToFile } from '../../src/storage/s3/s3-fast-get.js';
import { IN_CI } from '../helpers/components.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { tempDir } from '../helpers/tmp.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';
import { syntheticRepository } from '../suites/copy-fixtures.js';

const avail = s3ServerAvailable();
if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);
let server: S3TestServer | undefined;
after(async () => server?.stop());

const MiB = 1 << 20;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let n = 0;

/** A fresh bucket, a backend on `endpoint` (the server's by default) and a proxy in front. */
async function setup(t: { after(fn: () => unknown): void }, opts: { viaProxy?: boolean } = {}) {
  server ??= await startS3TestServer();
  const s = server;
  const bucket = `qnb-fast-${process.pid}-${++n}`;
  await s.createBucket(bucket);
  const proxy = await startTcpProxy(t, s.endpoint);
  const config = {
    bucket,
    prefix: 'p',
    endpoint: opts.viaProxy ? proxy.endpoint : s.endpoint,
    region: s.region,
    accessKeyId: s.accessKey,
    secretAccessKey: s.secretKey,
    partSize: MIN_PART_SIZE,
    concurrency: 3,
  };
  const backend = await createS3Backend(config);
  t.after(() => backend.close());
  /** The download of `key` through the proxy in 1 MiB ranges, 3 requests open. */
  const spec = (key: string, over: Partial<FastGet> = {}): FastGet => ({
    endpoint: new URL(proxy.endpoint),
    bucket,
    key: `p/${key}`,
    shownKey: `s3://${bucket}/p: get ${key}`,
    region: s.region,
    keys: async () => ({ accessKeyId: s.accessKey, secretAccessKey: s.secretKey }),
    rangeSize: MiB,
    concurrency: 3,
    ...over,
  });
  const put = async (key: string, data: Buffer) => {
    await backend.put(key, Readable.from([data]), { size: data.length, sha256: sha256(data) });
  };
  return { backend, proxy, spec, put, bucket, config };
}

/** Waits until `cond()` holds (or fails the test after 5 s). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 250 && !cond(); i++) await sleep(20);
  assert.ok(cond(), what);
}

const rangeOf = (head: string) => /\r\nrange: bytes=(\d+)-(\d+)/i.exec(head)?.slice(1).map(Number);
const isRaw = (head: string) => !/\r\nuser-agent:/i.test(head);
const rangeFrom = (start: number) => (head: string) => isRaw(head) && rangeOf(head)?.[0] === start;

test('the object comes over raw sockets in 1 MiB ranges: every boundary intact, hashed on the worker, fsynced 0600', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { proxy, spec, put } = await setup(t);
  const dir = await tempDir(t);
  const big = randomBytes(9 * MiB + 123); // over 8 MiB: the hash runs on the worker
  await put('big', big);
  proxy.requests.length = 0;
  const progress: number[] = [];
  const got = await s3GetToFile(spec('big'), join(dir, 'big'), {
    expectedBytes: big.length,
    onProgress: (b) => progress.push(b),
  });
  assert.deepEqual(got, { bytes: big.length, sha256: sha256(big) });
  assert.ok((await readFile(join(dir, 'big'))).equals(big));
  assert.equal((await stat(join(dir, 'big'))).mode & 0o777, 0o600);
  assert.equal(progress.at(-1), big.length);
  // ten signed ranges, the later ones pinned to the first answer's ETag, none through the SDK
  const ranges = proxy.requests.map(rangeOf);
  assert.equal(ranges.length, 10, proxy.requests.join('\n---\n'));
  assert.deepEqual(ranges.at(-1), [9 * MiB, big.length - 1]);
  assert.ok(proxy.requests.every(isRaw), 'no request came from the SDK');
  assert.ok(proxy.requests.every((h) => /\r\nauthorization: AWS4-HMAC-SHA256 /i.test(h)));
  assert.ok(proxy.requests.slice(1).every((h) => /\r\nif-match: "?[^\r\n]+/i.test(h)));
  assert.doesNotMatch(proxy.requests.join('\n'), new RegExp(server!.secretKey));

  // sizes at the range boundaries: one request each when they fit
  for (const size of [1, 100, MiB - 1, MiB, MiB + 1, 2 * MiB]) {
    const data = randomBytes(size);
    await put(`b/${size}`, data);
    proxy.requests.length = 0;
    const r = await s3GetToFile(spec(`b/${size}`), join(dir, `b${size}`));
    assert.deepEqual(r, { bytes: size, sha256: sha256(data) }, `${size} bytes`);
    assert.equal(proxy.requests.length, Math.ceil(size / MiB), `${size} bytes: requests`);
  }
});

test('restore --from takes the fast path on an http endpoint (and the SDK when it answers undefined)', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { backend, proxy } = await setup(t, { viaProxy: true });
  const dir = await tempDir(t);
  await syntheticRepository(join(dir, 'backups'), { sets: 1, bytes: 3 * MIN_PART_SIZE + 777 });
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  assert.equal((await copySets(createRepository(join(dir, 'backups')), backend, ctx)).ok, true);
  /** The backend, recording what getToFile answered and which keys went through get. */
  const spy = (b: S3Backend) => {
    const fast: (StreamResult | undefined)[] = [];
    const gets: string[] = [];
    const wrapped: CopyBackend = {
      ...b,
      getToFile: async (key, path, o) => {
        const r = await b.getToFile?.(key, path, o);
        fast.push(r);
        return r;
      },
      get: (key, o) => {
        gets.push(key);
        return b.get(key, o);
      },
    };
    return { wrapped, fast, gets };
  };
  const restore = async (root: string, s: ReturnType<typeof spy>) => {
    const repo = createRepository(join(dir, root));
    await repo.init();
    await fetchSet(repo, s.wrapped, backend.name, { latest: true }, ctx);
    assert.equal((await repo.scan()).artifacts.filter((a) => a.valid).length, 2);
  };
  const fast = spy(backend);
  await restore('r1', fast);
  assert.equal(fast.fast.length, 2);
  assert.ok(
    fast.fast.every((r) => r?.bytes === 3 * MIN_PART_SIZE + 777),
    'both artifacts came through getToFile',
  );
  assert.deepEqual(
    fast.gets.filter((k) => /\.(snapshot|dump)/.test(k)),
    [],
    'no artifact was read through get',
  );

  // a proxy that compresses the raw answers: getToFile leaves them to the SDK, the restore works
  proxy.rules.push({
    match: isRaw,
    rewriteHead: (h) => `${h}\r\ncontent-encoding: gzip`,
  });
  const slow = spy(backend);
  await restore('r2', slow);
  assert.deepEqual(slow.fast, [undefined, undefined]);
  assert.equal(slow.gets.filter((k) => /\.(snapshot|dump)/.test(k)).length, 2);
});

test('an encrypted copy comes over raw sockets and is decrypted as it arrives; a wrong identity reads only the header', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { backend, spec, proxy } = await setup(t, { viaProxy: true });
  const dir = await tempDir(t);
  const bytes = 2 * MIN_PART_SIZE + 4321;
  await syntheticRepository(join(dir, 'backups'), { sets: 1, bytes });
  const identity = await generateIdentity();
  const recipients = [await identityToRecipient(identity)];
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  const local = createRepository(join(dir, 'backups'));
  assert.equal((await copySets(local, backend, ctx, { recipients })).ok, true);
  const plain = new Map((await local.scan()).artifacts.map((a) => [a.artifact.file, a.artifact.sha256]));
  const sinks: boolean[] = [];
  const wrapped: CopyBackend = {
    ...backend,
    getToFile: async (key, path, o) => {
      const r = await backend.getToFile?.(key, path, o);
      sinks.push(r !== undefined && o?.sink !== undefined);
      return r;
    },
  };
  const repo = createRepository(join(dir, 'back'));
  await repo.init();
  await fetchSet(repo, wrapped, backend.name, { latest: true }, ctx, [identity]);
  assert.deepEqual(sinks, [true, true], 'both copies came through getToFile into the decrypting sink');
  const back = (await repo.scan()).artifacts;
  assert.equal(back.filter((a) => a.valid).length, 2);
  for (const a of back) {
    const file = await readFile(join(dir, 'back', a.artifact.file));
    assert.equal(sha256(file), plain.get(a.artifact.file), `${a.artifact.file}: the plaintext`);
  }

  // in 1 MiB ranges, 3 open at once: every range boundary lands inside the payload's chunks
  const key = `${back[0]!.artifact.file}.age`;
  const stored = await readFile(join(dir, 'back', back[0]!.artifact.file));
  const { key: payloadKey, head } = await openHeader(await backend.get(key), [identity], key);
  const total = (await backend.stat(key))!.size;
  let sink: RingDecrypt | undefined;
  const out = join(dir, 'ranges.out');
  const got = await s3GetToFile(spec(key), out, {
    expectedBytes: total,
    sink: (p, o) => {
      sink = createRingDecrypt(p, { ...o, key: payloadKey, head, total, what: key });
      return sink;
    },
  });
  assert.equal(got?.bytes, total);
  assert.deepEqual(sink!.plain(), { bytes: stored.length, sha256: sha256(stored) });
  assert.ok((await readFile(out)).equals(stored));

  // a wrong identity: refused from the header, before any range of the payload is asked
  const before = proxy.requests.length;
  const wrong = createRepository(join(dir, 'wrong'));
  await wrong.init();
  await assert.rejects(
    fetchSet(wrong, wrapped, backend.name, { latest: true }, ctx, [await generateIdentity()]),
    (e: unknown) =>
      e instanceof QnbError && e.code === 'E_AUTH' && /none of the age identities/.test(e.message),
  );
  assert.equal(proxy.requests.slice(before).filter(isRaw).length, 0, 'no raw range request was sent');
  assert.deepEqual((await wrong.scan()).artifacts, [], 'nothing half-fetched is left');
});

test('verify --from reads copies back over raw sockets, writing nothing: plain, encrypted and decrypted, and a damaged one', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { backend, config } = await setup(t);
  const dir = await tempDir(t);
  await syntheticRepository(join(dir, 'backups'), { sets: 1, bytes: MIN_PART_SIZE + 99 });
  const identity = await generateIdentity();
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  const local = createRepository(join(dir, 'backups'));
  const plainBackend = await createS3Backend({ ...config, prefix: 'plain' });
  t.after(() => plainBackend.close());
  assert.equal((await copySets(local, plainBackend, ctx)).ok, true);
  const recipients = [await identityToRecipient(identity)];
  assert.equal((await copySets(local, backend, ctx, { recipients })).ok, true);
  const sinks: string[] = [];
  const spied = (b: S3Backend): CopyBackend => ({
    ...b,
    getToFile: async (key, path, o) => {
      const r = await b.getToFile?.(key, path, o);
      if (r && o?.sink) sinks.push(key);
      return r;
    },
  });
  const plain = await verifyRemote(spied(plainBackend), plainBackend.name, undefined, ctx);
  assert.equal(plain.ok, true, JSON.stringify(plain.items));
  const enc = await verifyRemote(spied(backend), backend.name, undefined, ctx, { identities: [identity] });
  assert.equal(enc.ok, true, JSON.stringify(enc.items));
  assert.equal(enc.items.length, 2);
  assert.equal(sinks.length, 4, 'every copy came through getToFile into a sink');
  assert.deepEqual(await readdir(dir), ['backups'], 'nothing was written');

  // the same bytes with one flipped, in place of a copy: its sha256 no longer matches
  const victim = plain.items[0]!.file;
  const body = Buffer.from(await (await plainBackend.get(victim)).toArray().then((c) => Buffer.concat(c)));
  body[body.length - 7]! ^= 1;
  await plainBackend.put(victim, Readable.from([body]), { size: body.length, sha256: sha256(body) });
  const bad = await verifyRemote(spied(plainBackend), plainBackend.name, undefined, ctx);
  assert.equal(bad.ok, false);
  assert.match(
    bad.items.find((i) => i.file === victim)!.detail!,
    /sha256 differs from the manifest \(the copy is corrupt\)/,
  );
});

test('an object replaced while it is read: the next range fails with 412 naming the object and the range', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { proxy, spec, put } = await setup(t);
  const dir = await tempDir(t);
  await put('obj', randomBytes(5 * MiB + 7));
  let release!: () => void;
  proxy.rules.push({ match: rangeFrom(0), hold: new Promise<void>((r) => (release = r)) });
  proxy.requests.length = 0;
  const done = s3GetToFile(spec('obj'), join(dir, 'obj'));
  done.catch(() => {});
  // the first answer is held at the proxy while another version takes the key
  await until(() => proxy.requests.length === 1, 'the first range was asked');
  await put('obj', randomBytes(5 * MiB + 7));
  release();
  await assert.rejects(
    done,
    (e: unknown) =>
      e instanceof QnbError &&
      e.code === 'E_SERVER' &&
      /get obj: bytes 1048576–2097151: the object was replaced while qnb read it/.test(e.message),
  );
  await until(() => proxy.open() === 0, 'every connection closed');
});

test('a range cut short fails naming the object and the range; no socket stays open', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { proxy, spec, put } = await setup(t);
  const dir = await tempDir(t);
  await put('cut', randomBytes(6 * MiB));
  proxy.rules.push({ match: rangeFrom(2 * MiB), cutAfter: 1000 });
  await assert.rejects(
    s3GetToFile(spec('cut'), join(dir, 'cut')),
    (e: unknown) =>
      e instanceof QnbError &&
      /get cut: bytes 2097152–3145727: (the server sent 1000 of 1048576 bytes, then stopped|the connection failed)/.test(
        e.message,
      ),
  );
  await until(() => proxy.open() === 0, 'every connection closed');
});

test('an abort stops every socket at once', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { proxy, spec, put } = await setup(t);
  const dir = await tempDir(t);
  await put('slow', randomBytes(9 * MiB));
  // the fourth range never comes: only the abort ends the download
  proxy.rules.push({ match: rangeFrom(3 * MiB), hold: new Promise(() => {}) });
  const ac = new AbortController();
  const done = s3GetToFile(spec('slow'), join(dir, 'slow'), { signal: ac.signal, expectedBytes: 9 * MiB });
  done.catch(() => {});
  await until(() => proxy.requests.some(rangeFrom(4 * MiB)), 'the download reached the held range');
  assert.ok(proxy.open() >= 2, 'requests still open');
  ac.abort();
  await assert.rejects(done, (e: Error) => e.name === 'AbortError');
  await until(() => proxy.open() === 0, 'every connection closed');
});

test('answers left to the SDK resolve undefined before any file exists', async (t) => {
  if (!avail.ok) return t.skip(`S3 server missing — ${avail.hint}`);
  const { proxy, spec, put, backend } = await setup(t);
  const dir = await tempDir(t);
  const out = join(dir, 'out');
  await put('empty', Buffer.alloc(0));
  await put('some', randomBytes(3 * MiB));
  const none = async (s: FastGet, why: string) => {
    assert.equal(await s3GetToFile(s, out), undefined, why);
    assert.equal(existsSync(out), false, `${why}: no file`);
  };
  proxy.requests.length = 0;
  await none(spec('some', { endpoint: new URL('https://127.0.0.1:1') }), 'https');
  await none(spec('some', { endpoint: new URL(`${proxy.endpoint}/base/`) }), 'an endpoint with a path');
  assert.equal(proxy.requests.length, 0, 'neither sent anything');
  await none(spec('missing'), 'no such key (404)');
  await none(spec('empty'), 'an empty object (416)');
  await none(spec('some', { keys: async () => ({ accessKeyId: 'AKWRONG', secretAccessKey: 'x' }) }), '403');
  proxy.rules.push({ match: rangeFrom(0), rewriteHead: (h) => `${h}\r\ncontent-encoding: gzip` });
  await none(spec('some'), 'a compressed answer');
  proxy.rules.length = 0;
  // not reachable: the SDK asks again, with its retries and its errors
  await none(spec('some', { endpoint: new URL('http://127.0.0.1:1') }), 'nothing listening');
  // the backend itself: https and virtual-hosted endpoints never take the raw path
  const https = await createS3Backend({
    bucket: 'qnb-x',
    prefix: '',
    endpoint: 'https://127.0.0.1:1',
    region: 'us-east-1',
    accessKeyId: 'a',
    secretAccessKey: 'b',
    partSize: MIN_PART_SIZE,
    concurrency: 3,
  });
  t.after(() => https.close());
  assert.equal(await https.getToFile?.('k', out), undefined);
  assert.equal(existsSync(out), false);
  // and an http backend does take it
  assert.deepEqual(await backend.getToFile?.('some', out), await readBack(out));
});

async function readBack(path: string): Promise<{ bytes: number; sha256: string }> {
  const b = await readFile(path);
  return { bytes: b.length, sha256: sha256(b) };
}
