/**
 * Copy targets for end-to-end tests: a folder in the test's working folder, or a fresh bucket on
 * the real S3 server (versitygw, or radosgw with QNB_TEST_S3_SERVER=radosgw), started once per
 * test file on first use and stopped after it. In CI a missing S3 server fails the file.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { after } from 'node:test';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';
import { IN_CI } from './components.js';
import type { QnbWorld } from './qnb-world.js';

/** A copy target as qnb is told it, with a way to look at (and tamper with) what is there. */
export interface Target {
  kind: 'dir' | 's3';
  /** What to pass after --to / --remote / --from / --copy-to. */
  arg: string;
  /** Environment qnb needs for it (S3 endpoint and keys). */
  env: Record<string, string>;
  /** Relative keys of every object on the target. */
  keys(): Promise<string[]>;
  /** One object's bytes. */
  read(key: string): Promise<Buffer>;
  /** Writes one object directly (as another tool or a damaged disk would). */
  write(key: string, data: Buffer | string): Promise<void>;
  /** Deletes one object directly. */
  remove(key: string): Promise<void>;
}

/** A folder `name` in the world's working folder, passed to qnb by its relative name. */
export async function dirTarget(world: QnbWorld, name = 'usb-drive'): Promise<Target> {
  const root = join(world.cwd, name);
  await mkdir(root);
  const keys = async () =>
    (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? '', e.name).slice(root.length + 1))
      .sort();
  return {
    kind: 'dir',
    arg: name,
    env: {},
    keys,
    read: (key) => readFile(join(root, key)),
    write: async (key, data) => {
      await mkdir(dirname(join(root, key)), { recursive: true });
      await writeFile(join(root, key), data);
    },
    remove: (key) => rm(join(root, key)),
  };
}

/** The S3 server of one test file. */
export interface S3ForTests {
  /** `false`, or why the S3 tests skip (locally, when no server can be started). */
  skip: string | false;
  /** The server, started on first use. */
  server(): Promise<S3TestServer>;
  /** A bucket name not used before in this process. */
  bucketName(): string;
  /** A fresh bucket, used under the prefix `lab`. */
  target(): Promise<Target>;
}

/** Call once at the top of a test file: the S3 server is started on first use and stopped after. */
export function useS3(): S3ForTests {
  const avail = s3ServerAvailable();
  if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);
  let started: Promise<S3TestServer> | undefined;
  let buckets = 0;
  after(async () => {
    if (started) await (await started).stop();
  });
  const server = () => {
    started ??= startS3TestServer();
    return started;
  };
  const bucketName = () => `qnb-e2e-${process.pid}-${++buckets}`;
  return {
    skip: avail.ok ? false : `S3 server missing — ${avail.hint}`,
    server,
    bucketName,
    async target() {
      const srv = await server();
      const bucket = bucketName();
      await srv.createBucket(bucket);
      const sdk = await import('@aws-sdk/client-s3');
      const withClient = async <T>(fn: (c: Awaited<ReturnType<S3TestServer['client']>>) => Promise<T>) => {
        const c = await srv.client();
        try {
          return await fn(c);
        } finally {
          c.destroy();
        }
      };
      const Key = (key: string) => `lab/${key}`;
      return {
        kind: 's3',
        arg: `s3://${bucket}/lab`,
        env: srv.env(),
        keys: () =>
          withClient(async (c) => {
            const r = await c.send(new sdk.ListObjectsV2Command({ Bucket: bucket, Prefix: 'lab/' }));
            return (r.Contents ?? []).map((o) => o.Key!.slice('lab/'.length)).sort();
          }),
        read: (key) =>
          withClient(async (c) => {
            const r = await c.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: Key(key) }));
            return Buffer.from(await r.Body!.transformToByteArray());
          }),
        write: (key, data) =>
          withClient(async (c) => {
            await c.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: Key(key), Body: data }));
          }),
        remove: (key) =>
          withClient(async (c) => {
            await c.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: Key(key) }));
          }),
      };
    },
  };
}
