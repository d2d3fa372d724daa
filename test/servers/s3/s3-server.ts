/**
 * A real S3-compatible server for tests, on loopback, with credentials of the test's choosing.
 * Default: versitygw (Go module `github.com/versity/versitygw/cmd/versitygw@v1.7.0`, posix backend,
 * starts in well under a second); `QNB_TEST_S3_SERVER=radosgw` uses Ceph's radosgw from Debian
 * (scripts/s3/start-rgw.sh, memstore, ~20 s to start). `.ci/run` installs versitygw.
 *
 *   const s3 = await startS3TestServer();          // random port, random keys
 *   t.after(() => s3.stop());
 *   await s3.createBucket('qnb-test');
 *   // env for qnb: s3.env() → QNB_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { S3Client } from '@aws-sdk/client-s3';
import type { TestCert } from '../../helpers/tls-cert.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
/** The versitygw version .ci/run installs. */
export const VERSITYGW_MODULE = 'github.com/versity/versitygw/cmd/versitygw@v1.7.0';

export type S3ServerKind = 'versitygw' | 'radosgw';

/** A running S3 server. */
export interface S3TestServer {
  kind: S3ServerKind;
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  /** PIDs of the server processes (for tests that check they are gone). */
  pids: number[];
  /** versitygw's access log (one line per request, AWS's format, user agent included). */
  accessLog?: string;
  /** Environment for qnb: endpoint and keys. */
  env(): Record<string, string>;
  /** An SDK client with the server's keys (or other keys). */
  client(keys?: { accessKey: string; secretKey: string }): Promise<S3Client>;
  createBucket(name: string): Promise<void>;
  /**
   * A user that may list and read `bucket` but not write to it (versitygw's IAM plus a bucket
   * policy); a string says why this server cannot make one.
   */
  readOnlyUser(bucket: string): Promise<{ accessKey: string; secretKey: string } | string>;
  stop(): Promise<void>;
}

/** Where the versitygw binary is, if anywhere. */
export function findVersitygw(): string | undefined {
  const candidates = [
    process.env.QNB_VERSITYGW,
    ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'versitygw')),
    process.env.GOBIN && join(process.env.GOBIN, 'versitygw'),
    join(process.env.GOPATH ?? join(homedir(), 'go'), 'bin', 'versitygw'),
    join(homedir(), '.cache', 'qnb', 'bin', 'versitygw'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** The server kind tests use. */
export const S3_KIND: S3ServerKind = process.env.QNB_TEST_S3_SERVER === 'radosgw' ? 'radosgw' : 'versitygw';

/** Whether the S3 server of `S3_KIND` can be started here, with a hint when not. */
export function s3ServerAvailable(): { ok: true } | { ok: false; hint: string } {
  if (S3_KIND === 'radosgw') {
    return existsSync('/usr/bin/radosgw')
      ? { ok: true }
      : { ok: false, hint: 'apt-get install ceph-mon ceph-osd radosgw' };
  }
  return findVersitygw()
    ? { ok: true }
    : { ok: false, hint: `go install ${VERSITYGW_MODULE} (or set QNB_VERSITYGW to the binary)` };
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function sdkClient(
  endpoint: string,
  accessKey: string,
  secretKey: string,
  ca: Buffer | undefined,
): Promise<S3Client> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { Agent } = await import('node:https');
  return new S3Client({
    region: 'us-east-1',
    endpoint,
    ...(ca ? { requestHandler: { httpsAgent: new Agent({ ca }) } } : {}),
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function serverFrom(
  kind: S3ServerKind,
  port: number,
  accessKey: string,
  secretKey: string,
  pids: number[],
  stop: () => Promise<void>,
  bin?: string,
  tls?: TestCert,
): S3TestServer {
  const endpoint = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  let stopped = false;
  const server: S3TestServer = {
    kind,
    endpoint,
    region: 'us-east-1',
    accessKey,
    secretKey,
    pids,
    env: () => ({
      QNB_S3_ENDPOINT: endpoint,
      AWS_ACCESS_KEY_ID: accessKey,
      AWS_SECRET_ACCESS_KEY: secretKey,
    }),
    client: (keys) =>
      sdkClient(endpoint, keys?.accessKey ?? accessKey, keys?.secretKey ?? secretKey, tls?.cert),
    async createBucket(name) {
      const c = await server.client();
      const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
      try {
        await c.send(new CreateBucketCommand({ Bucket: name }));
      } finally {
        c.destroy();
      }
    },
    async readOnlyUser(bucket) {
      if (kind !== 'versitygw' || !bin) return 'only the versitygw test server has IAM users here';
      const user = {
        accessKey: `RO${randomBytes(6).toString('hex').toUpperCase()}`,
        secretKey: `ro-${randomBytes(12).toString('hex')}`,
      };
      // throwaway test keys: the new user's go on argv, the admin's through the environment
      await promisify(execFile)(
        bin,
        [
          'admin',
          '--endpoint-url',
          endpoint,
          'create-user',
          '--access',
          user.accessKey,
          '--secret',
          user.secretKey,
          '--role',
          'user',
        ],
        {
          env: { PATH: process.env.PATH, ADMIN_ACCESS_KEY: accessKey, ADMIN_SECRET_KEY: secretKey },
          timeout: 30_000,
        },
      );
      const { PutBucketPolicyCommand } = await import('@aws-sdk/client-s3');
      const policy = {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: [user.accessKey] },
            Action: ['s3:GetObject', 's3:ListBucket'],
            Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
          },
        ],
      };
      const c = await server.client();
      try {
        await c.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
      } finally {
        c.destroy();
      }
      return user;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stop();
    },
  };
  return server;
}

async function startVersitygw(accessKey: string, secretKey: string, tls?: TestCert): Promise<S3TestServer> {
  const bin = findVersitygw();
  if (!bin) throw new Error(`versitygw not found: go install ${VERSITYGW_MODULE}`);
  const dir = await mkdtemp(join(tmpdir(), 'qnb-s3-'));
  await mkdir(join(dir, 'data'));
  await mkdir(join(dir, 'meta'));
  await mkdir(join(dir, 'iam'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const log = openSync(join(dir, 'versitygw.log'), 'a');
    // keys go through the environment, never argv
    const child: ChildProcess = spawn(
      bin,
      [
        '--port',
        `127.0.0.1:${port}`,
        '--iam-dir',
        join(dir, 'iam'),
        '--quiet',
        '--access-log',
        join(dir, 'access.log'),
        ...(tls ? ['--cert', tls.certFile, '--key', tls.keyFile] : []),
        'posix',
        '--sidecar',
        join(dir, 'meta'),
        join(dir, 'data'),
      ],
      {
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          ROOT_ACCESS_KEY: accessKey,
          ROOT_SECRET_KEY: secretKey,
        },
        stdio: ['ignore', log, log],
      },
    );
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const deadline = Date.now() + 15_000;
    let up = false;
    while (!up && child.exitCode === null && Date.now() < deadline) {
      up = await canConnect(port);
      if (!up) await sleep(30);
    }
    if (up) {
      const stop = async () => {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
        await rm(dir, { recursive: true, force: true });
      };
      const server = serverFrom('versitygw', port, accessKey, secretKey, [child.pid!], stop, bin, tls);
      return { ...server, accessLog: join(dir, 'access.log') };
    }
    child.kill('SIGKILL');
    await exited;
    if (attempt >= 3) {
      await rm(dir, { recursive: true, force: true });
      throw new Error(`versitygw did not start on 127.0.0.1:${port}`);
    }
  }
}

async function startRadosgw(accessKey: string, secretKey: string): Promise<S3TestServer> {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-rgw-'));
  const port = await freePort();
  const monPort = await freePort();
  const env = {
    ...process.env,
    RGW_DIR: dir,
    RGW_PORT: String(port),
    RGW_MON_PORT: String(monPort),
    S3_ACCESS_KEY: accessKey,
    S3_SECRET_KEY: secretKey,
  };
  const stop = async () => {
    await promisify(execFile)(join(REPO, 'scripts/s3/stop-rgw.sh'), [dir]).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await promisify(execFile)(join(REPO, 'scripts/s3/start-rgw.sh'), [], { env, timeout: 180_000 });
  } catch (err) {
    await stop();
    throw err;
  }
  const { readdir, readFile } = await import('node:fs/promises');
  const pids = await Promise.all(
    (await readdir(join(dir, 'run')))
      .filter((f) => f.endsWith('.pid'))
      .map(async (f) => Number(await readFile(join(dir, 'run', f), 'utf8'))),
  );
  return serverFrom('radosgw', port, accessKey, secretKey, pids, stop);
}

/**
 * Starts the S3 server (`S3_KIND` unless given) with fresh random keys unless given; `tls` serves
 * https with that certificate (versitygw only).
 */
export async function startS3TestServer(
  opts: { kind?: S3ServerKind; accessKey?: string; secretKey?: string; tls?: TestCert } = {},
): Promise<S3TestServer> {
  const accessKey = opts.accessKey ?? `AK${randomBytes(8).toString('hex').toUpperCase()}`;
  const secretKey = opts.secretKey ?? `sk-${randomBytes(16).toString('hex')}`;
  const kind = opts.kind ?? S3_KIND;
  if (opts.tls && kind !== 'versitygw') throw new Error('only the versitygw test server serves https here');
  return kind === 'radosgw'
    ? startRadosgw(accessKey, secretKey)
    : startVersitygw(accessKey, secretKey, opts.tls);
}
