/**
 * Copy targets for the off-site e2e tests: a folder inside the test's world, or a fresh bucket
 * (prefix `lab/`) on the real S3 test server, started once per test file and stopped after it.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { type S3TestServer, startS3TestServer } from '../servers/s3/s3-server.js';
import type { QnbWorld } from './qnb-world.js';

/** A copy target as the tests see it. */
export interface Target {
  kind: 'dir' | 's3';
  /** What to pass after --to / --remote / --from. */
  arg: string;
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

let server: Promise<S3TestServer> | undefined;
let buckets = 0;
/** The file's S3 test server, started on first use. */
export const s3 = () => {
  server ??= startS3TestServer();
  return server;
};
after(async () => {
  if (server) await (await server).stop();
});

/** A folder `usb-drive` in the world's working folder (`--to usb-drive`). */
export async function dirTarget(world: QnbWorld): Promise<Target> {
  const root = join(world.cwd, 'usb-drive');
  await mkdir(root);
  const keys = async () =>
    (await readdir(root, { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath ?? '', e.name).slice(root.length + 1))
      .sort();
  return {
    kind: 'dir',
    arg: 'usb-drive',
    env: {},
    keys,
    read: (key) => readFile(join(root, key)),
    write: async (key, data) => {
      await mkdir(join(root, key, '..'), { recursive: true });
      await writeFile(join(root, key), data);
    },
    remove: (key) => rm(join(root, key)),
  };
}

/** A new, empty bucket on the S3 test server; returns its name. */
export async function newBucket(): Promise<string> {
  const bucket = `qnb-e2e-${process.pid}-${++buckets}`;
  await (await s3()).createBucket(bucket);
  return bucket;
}

/** A new bucket on the S3 test server (`--to s3://bucket/lab`). */
export async function s3Target(): Promise<Target> {
  const srv = await s3();
  const bucket = await newBucket();
  const sdk = await import('@aws-sdk/client-s3');
  const withClient = async <T>(fn: (c: Awaited<ReturnType<S3TestServer['client']>>) => Promise<T>) => {
    const c = await srv.client();
    try {
      return await fn(c);
    } finally {
      c.destroy();
    }
  };
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
        const r = await c.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: `lab/${key}` }));
        return Buffer.from(await r.Body!.transformToByteArray());
      }),
    write: (key, data) =>
      withClient(async (c) => {
        await c.send(new sdk.PutObjectCommand({ Bucket: bucket, Key: `lab/${key}`, Body: data }));
      }),
    remove: (key) =>
      withClient(async (c) => {
        await c.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: `lab/${key}` }));
      }),
  };
}

/** The target of `kind` for a world. */
export const targetFor = (kind: 'dir' | 's3', world: QnbWorld) =>
  kind === 'dir' ? dirTarget(world) : s3Target();
