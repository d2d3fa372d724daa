/**
 * core/http-get-file.ts and core/byte-ring.ts over real loopback sockets: every byte written and
 * hashed (worker and inline), answers it must leave to node:http, broken and silent connections,
 * aborts, and a hashing thread slower than the network (the ring's back-pressure).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createByteRing, RING_SLOTS, SLOT_BYTES } from '../../src/core/byte-ring.js';
import { QnbError } from '../../src/core/errors.js';
import { getToFile, IDLE_TIMEOUT, WORKER_MIN_BYTES } from '../../src/core/http-get-file.js';
import { requireComponent } from '../helpers/components.js';
import { tempDir } from '../helpers/tmp.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A raw TCP server on 127.0.0.1 answering each connection with `answer(socket, request)`. */
async function rawServer(
  t: { after(fn: () => unknown): void },
  answer: (s: Socket, request: string) => void,
): Promise<{ url: (path?: string) => URL; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((s) => {
    let got = '';
    s.on('error', () => {});
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        requests.push(got);
        answer(s, got);
        got = '';
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as { port: number };
  return { url: (path = '/snap') => new URL(`http://127.0.0.1:${port}${path}`), requests };
}

const okHead = (len: number, extra = '') =>
  `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${len}\r\n${extra}\r\n`;

test('a plain 200 is written, hashed on the worker, fsynced, 0600; the request carries the headers', async (t) => {
  const dir = await tempDir(t);
  const body = randomBytes(WORKER_MIN_BYTES + 3 * SLOT_BYTES + 12345);
  const srv = await rawServer(t, (s) => {
    s.write(okHead(body.length));
    s.end(body);
  });
  const progress: number[] = [];
  const res = await getToFile(srv.url(), join(dir, 'out'), {
    headers: { 'api-key': 'k-123', 'accept-encoding': 'identity' },
    expectedBytes: body.length,
    onProgress: (b) => progress.push(b),
  });
  assert.deepEqual(res, { bytes: body.length, sha256: sha256(body) });
  assert.ok((await readFile(join(dir, 'out'))).equals(body));
  assert.equal((await stat(join(dir, 'out'))).mode & 0o777, 0o600);
  assert.equal(progress.at(-1), body.length);
  assert.match(srv.requests[0] ?? '', /^GET \/snap HTTP\/1\.1\r\n/);
  assert.match(srv.requests[0] ?? '', /\r\napi-key: k-123\r\n/);
  assert.match(srv.requests[0] ?? '', /\r\nConnection: close\r\n/);
  // user:password in the URL goes out as Basic auth, like node:http does
  const withUser = srv.url();
  withUser.username = 'qnb';
  withUser.password = 's%40cret';
  await getToFile(withUser, join(dir, 'out2'), { headers: {} });
  assert.match(srv.requests[1] ?? '', /\r\nAuthorization: Basic cW5iOnNAY3JldA==\r\n/);
  assert.doesNotMatch(srv.requests[1] ?? '', /qnb:|s@cret/);
});

test('a head split over several packets and a small body hashed inline', async (t) => {
  const dir = await tempDir(t);
  const body = Buffer.from('small snapshot bytes');
  const srv = await rawServer(t, (s) => {
    const all = Buffer.concat([Buffer.from(okHead(body.length)), body]);
    s.setNoDelay(true);
    s.write(all.subarray(0, 10));
    setTimeout(() => s.write(all.subarray(10, 40)), 20);
    setTimeout(() => s.end(all.subarray(40)), 40);
  });
  const res = await getToFile(srv.url(), join(dir, 'out'), { headers: {}, expectedBytes: body.length });
  assert.deepEqual(res, { bytes: body.length, sha256: sha256(body) });
  assert.equal(await readFile(join(dir, 'out'), 'utf8'), body.toString());
});

test('an empty body makes an empty file', async (t) => {
  const dir = await tempDir(t);
  const srv = await rawServer(t, (s) => s.end(okHead(0)));
  const res = await getToFile(srv.url(), join(dir, 'out'), { headers: {} });
  assert.deepEqual(res, { bytes: 0, sha256: sha256(Buffer.alloc(0)) });
  assert.equal((await stat(join(dir, 'out'))).size, 0);
});

test('answers other than a plain 200 with a length are left to node:http: undefined, no file', async (t) => {
  const dir = await tempDir(t);
  const answers = [
    'HTTP/1.1 404 Not Found\r\ncontent-length: 2\r\n\r\n{}',
    'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    'HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: 3\r\n\r\nabc',
    'HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabc',
    'HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n',
  ];
  let next = 0;
  const srv = await rawServer(t, (s) => s.end(answers[next++] ?? ''));
  for (const answer of answers) {
    const res = await getToFile(srv.url(), join(dir, 'out'), { headers: {} });
    assert.equal(res, undefined, answer.split('\r\n')[1]);
    assert.equal(existsSync(join(dir, 'out')), false);
  }
  const other = await getToFile(new URL('ftp://127.0.0.1:1/x'), join(dir, 'out'), { headers: {} });
  assert.equal(other, undefined, 'a scheme other than http and https (raw-http-tls.test.ts) is left alone');
});

test('a connection cut mid-body, a longer body than announced and a silent server fail', async (t) => {
  const dir = await tempDir(t);
  const body = randomBytes(WORKER_MIN_BYTES + 1000);
  const kinds = ['cut', 'long', 'silent'];
  let k = 0;
  const srv = await rawServer(t, (s) => {
    const kind = kinds[k++];
    if (kind === 'cut') {
      s.write(okHead(body.length));
      s.write(body.subarray(0, 5 << 20), () => s.destroy());
    } else if (kind === 'long') {
      s.end(Buffer.concat([Buffer.from(okHead(10)), Buffer.alloc(20, 1)]));
    } else {
      s.write(okHead(body.length));
      s.write(body.subarray(0, 1000));
    }
  });
  await assert.rejects(
    getToFile(srv.url(), join(dir, 'cut'), { headers: {}, expectedBytes: body.length }),
    /connection closed after \d+ of \d+ bytes/,
  );
  await assert.rejects(
    getToFile(srv.url(), join(dir, 'long'), { headers: {} }),
    /more than its Content-Length 10/,
  );
  await assert.rejects(
    getToFile(srv.url(), join(dir, 'silent'), { headers: {}, expectedBytes: body.length, idleMs: 300 }),
    (e: NodeJS.ErrnoException) => e.code === IDLE_TIMEOUT,
  );
});

test('an abort mid-body rejects at once and stops the hashing thread', async (t) => {
  const dir = await tempDir(t);
  const srv = await rawServer(t, (s) => {
    s.write(okHead(64 << 20));
    s.write(randomBytes(2 << 20)); // then silence: only the abort ends it
  });
  const ac = new AbortController();
  const done = getToFile(srv.url(), join(dir, 'out'), {
    headers: {},
    expectedBytes: 64 << 20,
    signal: ac.signal,
    onProgress: (b) => {
      if (b > 0) ac.abort();
    },
  });
  await assert.rejects(done, (e: Error) => e.name === 'AbortError');
});

test('an existing file is never replaced', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'out'), 'keep');
  const srv = await rawServer(t, (s) => s.end(`${okHead(3)}new`));
  await assert.rejects(
    getToFile(srv.url(), join(dir, 'out'), { headers: {} }),
    (e: unknown) => e instanceof QnbError && e.code === 'E_IO',
  );
  assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'keep');
});

test('header values with line breaks are refused before anything is sent', async (t) => {
  const dir = await tempDir(t);
  const srv = await rawServer(t, (s) => s.end(okHead(0)));
  await assert.rejects(
    getToFile(srv.url(), join(dir, 'out'), { headers: { 'api-key': 'a\r\nx-evil: 1' } }),
    /line break/,
  );
  assert.equal(srv.requests.length, 0);
});

test('the ring hashes every committed byte in order when the producer outruns the worker', async () => {
  const ring = createByteRing({ worker: true });
  const whole = createHash('sha256');
  let waits = 0;
  try {
    for (let i = 0; i < RING_SLOTS * 6; i++) {
      const slot = ring.slot();
      const len = 1 + ((i * 7919) % (SLOT_BYTES - 1));
      const offset = i % 3;
      slot.fill(i & 0xff, offset, offset + len);
      slot[offset] = (i * 31) & 0xff;
      whole.update(slot.subarray(offset, offset + len));
      if (!ring.commit(offset, len)) {
        waits++;
        await ring.free();
      }
    }
    assert.equal(await ring.digest(), whole.digest('hex'));
    assert.ok(waits > 0, 'the producer had to wait for the hashing thread at least once');
  } finally {
    await ring.close();
  }
});

test('a full disk fails the download with the file named, large (worker hash) or small (inline)', async (t) => {
  if (
    !requireComponent(t, 'root (to mount a small tmpfs)', process.getuid?.() === 0, 'run the tests as root')
  )
    return;
  const small = await mkdtemp(join(tmpdir(), 'qnb-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', small]);
  t.after(async () => {
    execFileSync('umount', [small]);
    await rm(small, { recursive: true });
  });
  const body = randomBytes(12 << 20);
  const srv = await rawServer(t, (s) => s.end(Buffer.concat([Buffer.from(okHead(body.length)), body])));
  // hashed on the worker (a large answer) and inline (a small one); written by the receiving thread
  for (const [name, expectedBytes] of [
    ['worker', body.length],
    ['inline', 0],
  ] as const)
    await assert.rejects(
      getToFile(srv.url(), join(small, name), { headers: {}, expectedBytes }),
      (e: unknown) =>
        e instanceof QnbError &&
        e.code === 'E_IO' &&
        e.message.includes(join(small, name)) &&
        /no space left/.test(e.message),
      name,
    );
});
