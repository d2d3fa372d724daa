/**
 * An S3 backend on a real test server whose HTTP requests pass through a wrapper of the SDK's own
 * Node handler: tests count, delay or cut requests while the bytes still come from and go to the
 * real server.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { createS3BackendWith, type S3Backend } from '../../src/storage/s3/s3-backend.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-config.js';
import type { S3TestServer } from '../servers/s3/s3-server.js';

/** The SDK's request handler, as far as the wrappers use it. */
export type S3Handler = {
  handle(
    req: {
      method?: string;
      headers?: Record<string, string>;
      query?: Record<string, unknown>;
      body?: unknown;
    },
    opts?: { abortSignal?: AbortSignal },
  ): Promise<{ response: { body?: unknown } }>;
  destroy?(): void;
};

/** A fresh bucket on `server` and a backend on it (5 MiB parts, 4 in flight) through `wrap`. */
export async function backendThrough(
  t: { after(fn: () => unknown): void },
  server: S3TestServer,
  wrap: (real: S3Handler) => S3Handler,
): Promise<S3Backend> {
  const bucket = `qnb-wrap-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await server.createBucket(bucket);
  const sdk = await import('@aws-sdk/client-s3');
  const opts = {
    region: server.region,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: server.accessKey, secretAccessKey: server.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
  };
  // the SDK's own Node HTTP handler does the real requests
  const plain: S3Client = new sdk.S3Client(opts);
  const real = plain.config.requestHandler as unknown as S3Handler;
  const client = new sdk.S3Client({ ...opts, requestHandler: wrap(real) as never });
  const backend = createS3BackendWith(sdk, client, {
    bucket,
    prefix: 'lab',
    region: server.region,
    partSize: MIN_PART_SIZE,
    concurrency: 4,
  });
  t.after(async () => {
    await backend.close();
    plain.destroy();
  });
  return backend;
}
