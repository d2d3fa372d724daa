/**
 * Run by test/unit/raw-http-tls.test.ts as a child process with NODE_EXTRA_CA_CERTS set (Node
 * reads it only at start-up): an https server in this process, and qnb's raw TLS reader against
 * it. Prints one JSON line of results; the parent asserts.
 * Usage: tls-get-child.ts DIR CERT KEY OTHER_NAME_CERT OTHER_NAME_KEY UNTRUSTED_CERT UNTRUSTED_KEY
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SLOT_BYTES } from '../../src/core/byte-ring.js';
import { getToFile, WORKER_MIN_BYTES } from '../../src/core/http-get-file.js';
import { rawGet, requestText } from '../../src/core/raw-http.js';
import { createRingFile, type RingFile } from '../../src/core/ring-file.js';

const [dir, ...pems] = process.argv.slice(2) as [string, ...string[]];
const [certFile, keyFile, otherCert, otherKey, strangerCert, strangerKey] = pems as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const sha256 = (...b: Buffer[]) => {
  const h = createHash('sha256');
  for (const x of b) h.update(x);
  return h.digest('hex');
};
const pattern = (n: number, seed: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i + 4 <= n; i += 4) b.writeUInt32LE((Math.imul(i + seed, 2654435761) ^ seed) >>> 0, i);
  return b;
};
const a = pattern(WORKER_MIN_BYTES + 5 * SLOT_BYTES + 12_345, 1);
const b = pattern(3 * SLOT_BYTES + 999, 2);
const c = pattern(3 * SLOT_BYTES + 100, 3);
const server = createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
  const body = req.url === '/b' ? b : req.url === '/c' ? c : a;
  res.writeHead(200, { 'content-length': req.url === '/long' ? 1000 : body.length });
  res.end(req.url === '/long' ? body.subarray(0, 5000) : body);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address() as AddressInfo;
const url = (path: string) => new URL(`https://localhost:${port}${path}`);
const out: Record<string, unknown> = {};

// 1. the whole answer through getToFile: gathered records, worker hash, pool writes, fsync
const one = await getToFile(url('/a'), join(dir, 'one'), { headers: {}, expectedBytes: a.length });
out.one = {
  bytes: one?.bytes,
  ok: one?.sha256 === sha256(a),
  file: sha256(readFileSync(join(dir, 'one'))) === sha256(a),
};

// 2. two answers into one ring whose every slot makes the reader wait: the records OpenSSL has
// already decrypted keep coming after the pause and must be kept, in order
const inner = createRingFile(join(dir, 'two'), { expectedBytes: a.length + b.length, onError: () => {} });
let waits = 0;
// the ring's contract: after write() says false, nothing goes into the ring until free() resolves
let full = false;
let violations = 0;
const slow: RingFile = {
  ...inner,
  write(buf, from, n) {
    if (full) violations++;
    inner.write(buf, from, n);
    full = true;
    return false;
  },
  async free() {
    waits++;
    await new Promise((r) => setTimeout(r, 1));
    await inner.free();
    full = false;
  },
};
const get = (path: string, paused: boolean) =>
  rawGet({
    url: url(path),
    request: requestText(url(path), {}),
    file: slow,
    onHead: (h) => {
      if (!slow.opened()) slow.open();
      return Number(h.headers.get('content-length'));
    },
    paused,
  });
const first = get('/a', false);
const second = get('/b', true);
const n1 = await first.done;
second.start();
const n2 = await second.done;
const two = await slow.finish();
await slow.close();
out.two = {
  n1,
  n2,
  waits,
  violations,
  ok: two.sha256 === sha256(a, b),
  file: sha256(readFileSync(join(dir, 'two'))) === sha256(a, b),
};

// 3. more than the Content-Length over TLS is refused
try {
  await getToFile(url('/long'), join(dir, 'three'), { headers: {} });
  out.three = 'resolved';
} catch (e) {
  out.three = (e as Error).message;
}

// 4, 5. a certificate for another name (from a trusted CA), and one from a CA not trusted: refused
// before a byte of the body is read, no file made
for (const [key, cert, pem, keyPem] of [
  ['four', 'other name', otherCert, otherKey],
  ['five', 'untrusted', strangerCert, strangerKey],
] as const) {
  const srv = createServer({ cert: readFileSync(pem), key: readFileSync(keyPem) }, (_req, res) =>
    res.end('x'),
  );
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const target = new URL(`https://localhost:${(srv.address() as AddressInfo).port}/a`);
  try {
    await getToFile(target, join(dir, key), { headers: {} });
    out[key] = `${cert}: resolved`;
  } catch (e) {
    out[key] = { code: (e as NodeJS.ErrnoException).code, file: existsSync(join(dir, key)) };
  }
  srv.close();
}
// 6. a commit that throws (a damaged chunk of an encrypted copy) after a wait for the ring, when
// the last records came in while waiting: the GET rejects with that error, nothing left hanging
const unhandled: string[] = [];
process.on('unhandledRejection', (e) => unhandled.push((e as Error).message));
const ring6 = createRingFile(join(dir, 'six'), { expectedBytes: c.length, onError: () => {} });
const throwing: RingFile = {
  ...ring6,
  write(buf, from, n) {
    // the answer's last, partial slot
    if (n < SLOT_BYTES) throw new Error('damaged at the end');
    ring6.write(buf, from, n);
    return false;
  },
  async free() {
    await new Promise((r) => setTimeout(r, 20));
    await ring6.free();
  },
};
const six = rawGet({
  url: url('/c'),
  request: requestText(url('/c'), {}),
  file: throwing,
  onHead: (h) => {
    throwing.open();
    return Number(h.headers.get('content-length'));
  },
});
out.six = await Promise.race([
  six.done.then(
    () => 'resolved',
    (e: Error) => `rejected: ${e.message}`,
  ),
  new Promise((r) => setTimeout(() => r('still pending after 5 s'), 5000)),
]);
six.destroy();
await ring6.close();
await new Promise((r) => setTimeout(r, 50));
out.unhandled = unhandled;
server.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
