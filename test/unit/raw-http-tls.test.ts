/**
 * core/raw-http.ts over TLS, in a child process that trusts a test CA through
 * NODE_EXTRA_CA_CERTS (test/helpers/tls-get-child.ts): records gathered into ring slots, the
 * records OpenSSL delivers after a pause kept in order, two answers into one ring, a body
 * longer than its Content-Length refused, certificates for another name or from an untrusted CA
 * refused, and a commit that throws after a wait rejecting the GET.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { requireComponent } from '../helpers/components.js';
import { makeTestCert, opensslAvailable } from '../helpers/tls-cert.js';
import { tempDir } from '../helpers/tmp.js';

const CHILD = fileURLToPath(new URL('../helpers/tls-get-child.ts', import.meta.url));

test('https answers are read into the ring record by record, kept in order through waits, and checked', async (t) => {
  if (!requireComponent(t, 'openssl', opensslAvailable(), 'apt-get install openssl')) return;
  const dir = await tempDir(t);
  const cert = await makeTestCert(dir);
  const other = await makeTestCert(dir, 'other', ['DNS:elsewhere.test']);
  const stranger = await makeTestCert(dir, 'stranger');
  // the CAs this child trusts: the first two, not the stranger
  const bundle = join(dir, 'trusted.pem');
  await writeFile(bundle, Buffer.concat([cert.cert, other.cert]));
  const pems = [cert, other, stranger].flatMap((c) => [c.certFile, c.keyFile]);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CHILD, dir, ...pems], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: bundle },
    timeout: 120_000,
    maxBuffer: 1 << 20,
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1) as string);
  assert.equal(out.one.ok, true, 'getToFile over TLS: the sha256 of every byte');
  assert.equal(out.one.file, true, 'and the file holds them');
  assert.equal(out.two.ok, true, 'two answers through a ring that made the reader wait at every slot');
  assert.equal(out.two.file, true);
  assert.ok(out.two.waits > 10, `the reader waited (${out.two.waits})`);
  assert.equal(out.two.violations, 0, 'nothing went into the ring while it was full');
  assert.match(out.three, /more than its Content-Length 1000/);
  assert.deepEqual(
    out.four,
    { code: 'ERR_TLS_CERT_ALTNAME_INVALID', file: false },
    'a certificate for another name',
  );
  assert.deepEqual(
    out.five,
    { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', file: false },
    'a certificate no trusted CA signed',
  );
  assert.equal(out.six, 'rejected: damaged at the end', 'a commit that throws after a wait rejects the GET');
  assert.deepEqual(out.unhandled, []);
});
