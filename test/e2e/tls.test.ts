/**
 * https with a private CA, the way a user behind one runs qnb: the CA in NODE_EXTRA_CA_CERTS, a
 * Qdrant with `service.enable_tls` (the test server with a certificate) and an S3 server on
 * https (versitygw with `--cert`). Large downloads take qnb's own reader over TLS (raw-http.ts):
 * the tests tell it from node:https and the AWS SDK by what it sends (`Connection: close`, no
 * User-Agent) and check every byte comes back.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { requireComponent } from '../helpers/components.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { makeTestCert, opensslAvailable, type TestCert } from '../helpers/tls-cert.js';
import { tempDir } from '../helpers/tmp.js';
import { type QdrantTestServer, startQdrantTestServer } from '../servers/qdrant/index.js';
import { s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';

/** A JSON call to an https server that trusts `cert` (the test process does not use NODE_EXTRA_CA_CERTS). */
function callTls(
  base: string,
  cert: TestCert,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, base),
      { method, ca: cert.cert, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

interface TlsWorld {
  server: QdrantTestServer;
  cert: TestCert;
  cwd: string;
  qnb(args: string[], env?: Record<string, string>): ReturnType<typeof runQnb>;
}

async function tlsWorld(t: Parameters<typeof requireComponent>[0]): Promise<TlsWorld | undefined> {
  if (!requireComponent(t, 'openssl', opensslAvailable(), 'apt-get install openssl')) return undefined;
  const cwd = await tempDir(t);
  const cert = await makeTestCert(cwd);
  const server = await startQdrantTestServer({ tls: { cert: cert.cert, key: cert.key } });
  t.after(() => server.stop());
  assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const env = qnbEnv({ QDRANT_URL: server.url, NODE_EXTRA_CA_CERTS: cert.certFile });
  return { server, cert, cwd, qnb: (args, extra = {}) => runQnb(args, { cwd, env: { ...env, ...extra } }) };
}

/** The TLS world plus versitygw on https with the same certificate and an empty `bucket`. */
async function tlsWorldWithS3(t: Parameters<typeof requireComponent>[0], bucket: string) {
  const w = await tlsWorld(t);
  if (!w) return undefined;
  const avail = s3ServerAvailable();
  if (!requireComponent(t, 'S3 server', avail.ok, avail.ok ? '' : avail.hint)) return undefined;
  const s3 = await startS3TestServer({ kind: 'versitygw', tls: w.cert });
  t.after(() => s3.stop());
  assert.match(s3.endpoint, /^https:/);
  await s3.createBucket(bucket);
  return { w, s3 };
}

/** `docs`: 300 points and `padding` bytes of segment data, so its snapshot is a large download. */
async function seedDocs(w: TlsWorld, padding = 24 << 20): Promise<void> {
  const put = (path: string, body: unknown) => callTls(w.server.url, w.cert, 'PUT', path, body);
  assert.equal((await put('/collections/docs', { vectors: { size: 4, distance: 'Cosine' } })).status, 200);
  const points = Array.from({ length: 300 }, (_, i) => ({
    id: i + 1,
    vector: [i % 7, 1, (i * 13) % 11, 2],
    payload: { title: `doc ${i}`, n: i },
  }));
  const up = await put('/collections/docs/points?wait=true', { points });
  assert.equal(up.status, 200, up.text);
  await w.server.setSnapshotPadding('docs', padding);
}

const snapshotGets = (server: QdrantTestServer) =>
  server.requests.filter((r) => r.method === 'GET' && /\/snapshots\/[^/]+\.snapshot$/.test(r.path));

describe('https with a private CA (NODE_EXTRA_CA_CERTS)', () => {
  test('Qdrant over https: the snapshot comes through qnb’s own TLS reader, checked, and restores every point', async (t) => {
    const w = await tlsWorld(t);
    if (!w) return;
    await seedDocs(w);
    const before = w.server.points('docs');

    const backup = await w.qnb(['backup-qdrant', '--collection', 'docs']);
    assert.equal(backup.code, 0, `${backup.stdout}\n${backup.stderr}`);
    const gets = snapshotGets(w.server);
    assert.equal(gets.length, 1, 'one download');
    // node:https's keep-alive agent says keep-alive; qnb's raw reader asks one answer per socket
    assert.equal(gets[0]!.headers.connection, 'close', 'the download took the raw TLS reader');
    assert.equal(gets[0]!.status, 200);

    const verify = await w.qnb(['verify']);
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);

    assert.equal((await callTls(w.server.url, w.cert, 'DELETE', '/collections/docs')).status, 200);
    const restore = await w.qnb(['restore-qdrant', '--latest', '--collection', 'docs', '--yes']);
    assert.equal(restore.code, 0, `${restore.stdout}\n${restore.stderr}`);
    assert.match(restore.stdout, /Points: 300 \(manifest: 300\) ✔/);
    assert.deepEqual(w.server.points('docs'), before);
  });

  test('a certificate qnb does not trust: one line naming the server and the fix, nothing listed valid', async (t) => {
    const w = await tlsWorld(t);
    if (!w) return;
    await seedDocs(w);
    const run = await w.qnb(['backup-qdrant', '--collection', 'docs'], { NODE_EXTRA_CA_CERTS: '' });
    assert.notEqual(run.code, 0, run.stdout);
    assert.equal(hasStackTrace(run), false, run.stderr);
    const lines = run.stderr.trim().split('\n');
    assert.equal(lines.length, 1, run.stderr);
    assert.match(lines[0]!, new RegExp(`${w.server.url.replace(/[.[\]]/g, '\\$&')}.*certificate`, 'i'));
    assert.match(lines[0]!, /NODE_EXTRA_CA_CERTS/);
    assert.equal(snapshotGets(w.server).length, 0, 'no download was tried');
    const listed = await w.qnb(['list', '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as { backups: unknown[] }).backups, []);
  });

  test('S3 over https: restore --from and verify --from read the ranges themselves over TLS', async (t) => {
    const got = await tlsWorldWithS3(t, 'tls-copies');
    if (!got) return;
    const { w, s3 } = got;
    // 70 MiB: three ranges of ≥ 32 MiB, the later two asked while the first is read
    await seedDocs(w, 70 << 20);
    const env = { ...s3.env(), QNB_S3_PART_SIZE_MB: '5' };
    const target = 's3://tls-copies/lab';
    assert.equal((await w.qnb(['backup-qdrant', '--collection', 'docs'], env)).code, 0);
    const copy = await w.qnb(['copy', '--to', target], env);
    assert.equal(copy.code, 0, `${copy.stdout}\n${copy.stderr}`);

    const logged = async () => (await readFile(s3.accessLog!, 'utf8')).split('\n').filter(Boolean);
    const rawGets = async () =>
      (await logged()).filter(
        (l) => / s3_GetObject lab\/qdrant\/\S+\.snapshot /.test(l) && !/aws-sdk-js/.test(l),
      );
    const verify = await w.qnb(['verify', '--from', target], env);
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
    // asked without the SDK's User-Agent, one GET per range
    const afterVerify = (await rawGets()).length;
    assert.equal(
      afterVerify,
      3,
      `verify --from read the snapshot's 3 ranges over raw TLS:\n${(await logged()).join('\n')}`,
    );

    const before = w.server.points('docs');
    assert.equal((await callTls(w.server.url, w.cert, 'DELETE', '/collections/docs')).status, 200);
    const restored = await w.qnb(['restore-qdrant', '--from', target, '--latest', '--collection', 'docs'], {
      ...env,
      QNB_BACKUP_DIR: join(w.cwd, 'elsewhere'),
    });
    assert.equal(restored.code, 0, `${restored.stdout}\n${restored.stderr}`);
    assert.match(restored.stdout, /Fetched: qdrant\/docs-backup-.* \(sha256 verified/);
    assert.equal((await rawGets()).length, 6, 'restore --from read the 3 ranges over raw TLS');
    assert.deepEqual(w.server.points('docs'), before);

    // an encrypted copy comes back the same way, decrypted as it arrives
    if (
      !requireComponent(
        t,
        'age-keygen',
        spawnSync('age-keygen', ['--version']).status === 0,
        'apt-get install age',
      )
    )
      return;
    const keyFile = join(w.cwd, 'age.key');
    execFileSync('age-keygen', ['-o', keyFile], { stdio: 'ignore' });
    const recipient = execFileSync('age-keygen', ['-y', keyFile], { encoding: 'utf8' }).trim();
    const sealed = 's3://tls-copies/sealed';
    const enc = await w.qnb(['copy', '--to', sealed], { ...env, QNB_AGE_RECIPIENTS: recipient });
    assert.equal(enc.code, 0, `${enc.stdout}\n${enc.stderr}`);
    assert.equal((await callTls(w.server.url, w.cert, 'DELETE', '/collections/docs')).status, 200);
    const back = await w.qnb(['restore-qdrant', '--from', sealed, '--latest', '--collection', 'docs'], {
      ...env,
      QNB_BACKUP_DIR: join(w.cwd, 'third'),
      QNB_AGE_IDENTITY_FILE: keyFile,
    });
    assert.equal(back.code, 0, `${back.stdout}\n${back.stderr}`);
    const sealedGets = (await logged()).filter(
      (l) => / s3_GetObject sealed\/qdrant\/\S+\.snapshot\.age /.test(l) && !/aws-sdk-js/.test(l),
    );
    assert.ok(sealedGets.length >= 3, `the encrypted object's ranges over raw TLS (${sealedGets.length})`);
    assert.deepEqual(w.server.points('docs'), before);
  });

  test('an S3 endpoint whose certificate qnb does not trust: one line naming it and NODE_EXTRA_CA_CERTS, no retries', async (t) => {
    const got = await tlsWorldWithS3(t, 'tls-untrusted');
    if (!got) return;
    const { w, s3 } = got;
    await seedDocs(w, 1 << 20);
    assert.equal((await w.qnb(['backup-qdrant', '--collection', 'docs'])).code, 0);
    const started = Date.now();
    const copy = await w.qnb(['copy', '--to', 's3://tls-untrusted/lab'], {
      ...s3.env(),
      NODE_EXTRA_CA_CERTS: '',
    });
    assert.notEqual(copy.code, 0, copy.stdout);
    const errors = copy.stderr.split('\n').filter((l) => l.startsWith('✘'));
    assert.equal(errors.length, 1, copy.stderr);
    assert.match(
      errors[0]!,
      /s3:\/\/tls-untrusted\/lab .*certificate.*(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED)/i,
    );
    assert.match(errors[0]!, /NODE_EXTRA_CA_CERTS/);
    assert.ok(Date.now() - started < 20_000, 'not retried as a server problem');
    assert.equal(hasStackTrace(copy), false);
  });
});
