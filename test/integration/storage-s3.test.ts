/**
 * The CopyBackend conformance suite on a real S3 server (versitygw by default,
 * QNB_TEST_S3_SERVER=radosgw for Ceph): multipart uploads with bounded memory, interrupted
 * uploads that leave no object and no unfinished upload, wrong keys, a missing bucket, and a
 * read-only user (versitygw's IAM with a bucket policy that only allows reading).
 */
import { after, test } from 'node:test';
import type { CopyBackend } from '../../src/storage/backend.js';
import { createS3Backend, type S3Backend } from '../../src/storage/s3/s3-backend.js';
import { MIN_PART_SIZE, type S3BackendConfig } from '../../src/storage/s3/s3-config.js';
import { IN_CI } from '../helpers/components.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';
import { copyBackendSuite } from '../suites/copy-backend-suite.js';

const avail = s3ServerAvailable();
if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);

let server: Promise<S3TestServer> | undefined;
const s3 = () => {
  server ??= startS3TestServer();
  return server;
};
after(async () => {
  if (server) await (await server).stop();
});

let n = 0;
async function backendOn(bucket: string, over: Partial<S3BackendConfig> = {}): Promise<S3Backend> {
  const srv = await s3();
  return createS3Backend({
    bucket,
    prefix: 'qnb/host-1',
    endpoint: srv.endpoint,
    region: srv.region,
    accessKeyId: srv.accessKey,
    secretAccessKey: srv.secretKey,
    partSize: MIN_PART_SIZE,
    concurrency: 4,
    ...over,
  });
}

async function freshBackend(t: { after(fn: () => unknown): void }, over: Partial<S3BackendConfig> = {}) {
  const bucket = `qnb-suite-${process.pid}-${++n}`;
  await (await s3()).createBucket(bucket);
  const b = await backendOn(bucket, over);
  t.after(() => b.close());
  return b;
}

if (!avail.ok) {
  test(`S3 conformance (${S3_KIND})`, (t) => t.skip(`S3 server missing — ${avail.hint}`));
} else {
  copyBackendSuite(`s3 (${S3_KIND})`, {
    open: (t) => freshBackend(t),
    getToFile: true,
    leftovers: (b: CopyBackend) => (b as S3Backend).incompleteUploads(),
    wrongCredentials: async (t) => {
      const good = await freshBackend(t);
      const secret = 'sk-wrong-secret-000';
      const b = await backendOn(good.name.split('/')[2]!, { secretAccessKey: secret });
      t.after(() => b.close());
      return { backend: b, secret };
    },
    missingContainer: async (t) => {
      const b = await backendOn('qnb-no-such-bucket');
      t.after(() => b.close());
      return b;
    },
    async readOnly(t) {
      const srv = await s3();
      const bucket = `qnb-ro-${process.pid}-${++n}`;
      await srv.createBucket(bucket);
      const user = await srv.readOnlyUser(bucket);
      if (typeof user === 'string') return user;
      const b = await backendOn(bucket, { accessKeyId: user.accessKey, secretAccessKey: user.secretKey });
      t.after(() => b.close());
      return b;
    },
  });
}
