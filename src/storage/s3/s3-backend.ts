/**
 * S3-compatible storage as a copy destination. The SDK loads on first use (`qnb --help` never loads it).
 * Objects live at `<prefix>/<key>` in the bucket; each records its sha256 in the `qnb-sha256`
 * metadata so `stat` can prove an object without reading it back. Uploads: see s3-upload.ts.
 */
import type { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { InterruptedError, NotFoundError, QnbError } from '../../core/errors.js';
import { type BackendProperties, type CopyBackend, checkKey, type ObjectInfo } from '../backend.js';
import { checkCredentials, concurrencyFor, partSizeFor, type S3BackendConfig } from './s3-config.js';
import { getRanged } from './s3-download.js';
import { isNotFound, s3Error } from './s3-errors.js';
import { s3GetToFile } from './s3-fast-get.js';
import { abortLeftoverUploads, SHA256_META, uploadObject } from './s3-upload.js';

type Sdk = typeof import('@aws-sdk/client-s3');

/**
 * Smallest range of the raw-socket download. Its memory does not grow with the range (the waiting
 * answers sit in the kernel's socket buffers), but every range starts a connection whose TCP window
 * starts small: 32 MiB ranges were ~10 % faster than 8 MiB ones (bench/FINDINGS.md).
 */
export const FAST_RANGE_MIN = 32 << 20;

/** The S3 backend, with one S3-only extra for tests and `doctor`. */
export interface S3Backend extends CopyBackend {
  /** Unfinished multipart uploads below the prefix (leftovers of killed processes). */
  incompleteUploads(): Promise<string[]>;
}

/** `s3://bucket/prefix`, plus the endpoint when it is not AWS. */
export function s3Location(c: Pick<S3BackendConfig, 'bucket' | 'prefix' | 'endpoint'>): string {
  const url = `s3://${c.bucket}${c.prefix ? `/${c.prefix}` : ''}`;
  return c.endpoint ? `${url} (${c.endpoint})` : url;
}

/** Opens an S3 destination: loads the SDK and builds the client. No request is made yet. */
export async function createS3Backend(config: S3BackendConfig): Promise<S3Backend> {
  checkCredentials(config);
  // The SDK warns on stderr about Node 20 on first client creation; qnb states its own engine range.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const sdk: Sdk = await import('@aws-sdk/client-s3');
  const client: S3Client = new sdk.S3Client({
    region: config.region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
    ...(config.accessKeyId
      ? {
          credentials: {
            accessKeyId: config.accessKeyId,
            secretAccessKey: config.secretAccessKey ?? '',
            ...(config.sessionToken ? { sessionToken: config.sessionToken } : {}),
          },
        }
      : { profile: config.profile }),
    // qnb signs every body with its sha256 (checked by the server); the SDK's default CRC32
    // trailers break older S3-compatible servers
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 10_000, requestTimeout: 300_000 },
  });
  return createS3BackendWith(sdk, client, config);
}

/** The S3 backend on a client built by the caller (tests put a delaying request handler in it). */
export function createS3BackendWith(sdk: Sdk, client: S3Client, config: S3BackendConfig): S3Backend {
  const { bucket, prefix } = config;
  const location = s3Location(config);
  const full = (key: string) => {
    checkKey(key);
    return prefix ? `${prefix}/${key}` : key;
  };
  const err = (e: unknown, op: string, signal?: AbortSignal) => s3Error(e, { location, bucket, op, signal });
  let bucketChecked: Promise<void> | undefined;
  /** One ListObjectsV2 tells a missing bucket and rejected keys apart (HEAD answers have no body). */
  const checkBucket = () => {
    bucketChecked ??= client
      .send(
        new sdk.ListObjectsV2Command({
          Bucket: bucket,
          MaxKeys: 1,
          ...(prefix ? { Prefix: `${prefix}/` } : {}),
        }),
      )
      .then(
        () => {},
        (e) => {
          bucketChecked = undefined;
          throw err(e, 'list');
        },
      );
    return bucketChecked;
  };
  const endpoint = config.endpoint ? new URL(config.endpoint) : undefined;
  const pathStyle = config.forcePathStyle ?? Boolean(config.endpoint);
  const fastEndpoint = endpoint && /^https?:$/.test(endpoint.protocol) && pathStyle ? endpoint : undefined;
  const props: BackendProperties = {
    kind: 's3',
    location,
    storesSha256: true,
    verification:
      'sha256 of the bytes read, checked before the upload completes; every part signed with its sha256 (x-amz-content-sha256, also sent as x-amz-checksum-sha256), checked by the server; size and recorded sha256 read back with HEAD',
  };

  async function stat(key: string, opts: { signal?: AbortSignal } = {}): Promise<ObjectInfo | undefined> {
    try {
      const h = await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: full(key) }), {
        abortSignal: opts.signal,
      });
      return {
        key,
        size: h.ContentLength ?? 0,
        ...(h.Metadata?.[SHA256_META] ? { sha256: h.Metadata[SHA256_META] } : {}),
        ...(h.LastModified ? { modified: h.LastModified } : {}),
      };
    } catch (e) {
      if (isNotFound(e)) {
        await checkBucket();
        return undefined;
      }
      throw err(e, `stat ${key}`, opts.signal);
    }
  }

  return {
    name: location,
    properties: () => ({ ...props }),
    stat,

    async put(key, body: Readable, opts) {
      const fullKey = full(key);
      try {
        await checkBucket();
        await abortLeftoverUploads(sdk, client, bucket, fullKey).catch(() => 0);
        const partSize = partSizeFor(opts.size, config.partSize);
        await uploadObject({
          sdk,
          client,
          bucket,
          key: fullKey,
          shownKey: `${key} to ${location}`,
          body,
          size: opts.size,
          sha256: opts.sha256,
          partSize,
          concurrency: concurrencyFor(partSize, config.concurrency),
          ...(opts.signal ? { signal: opts.signal } : {}),
          ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        });
      } catch (e) {
        body.destroy();
        throw err(e, `put ${key}`, opts.signal);
      }
      // the server said yes: read back what it holds, so a proxy or a quirky server cannot fool us
      const got = await stat(key, opts);
      if (!got || got.size !== opts.size || got.sha256 !== opts.sha256) {
        throw new QnbError(
          'E_CHECKSUM',
          `${location}: put ${key}: after the upload the server holds ${got ? `${got.size} bytes with sha256 ${got.sha256 ?? 'unknown'}` : 'nothing'}`,
          { hint: 'the server or a proxy changed the object; run the copy again', retryable: true },
        );
      }
      return got;
    },

    async get(key, opts = {}) {
      const fullKey = full(key);
      const plainGet = async () => {
        const r = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: fullKey }), {
          abortSignal: opts.signal,
        });
        return r.Body as Readable;
      };
      try {
        return await getRanged(
          {
            sdk,
            client,
            bucket,
            key: fullKey,
            shownKey: `${location}: get ${key}`,
            rangeSize: config.partSize,
            concurrency: Math.max(config.concurrency, 2),
            wrap: (e) => err(e, `get ${key}`, opts.signal),
            ...(opts.signal ? { signal: opts.signal } : {}),
          },
          plainGet,
        );
      } catch (e) {
        if (isNotFound(e)) {
          await checkBucket();
          throw new NotFoundError(`${location}: ${key} not found`);
        }
        throw err(e, `get ${key}`, opts.signal);
      }
    },

    async getToFile(key, path, opts = {}) {
      const fullKey = full(key);
      // raw sockets for path-style endpoints (http or https); the SDK for AWS's own virtual hosts
      if (!fastEndpoint) return undefined;
      try {
        return await s3GetToFile(
          {
            endpoint: fastEndpoint,
            bucket,
            key: fullKey,
            shownKey: `${location}: get ${key}`,
            region: config.region,
            keys: () => client.config.credentials(),
            rangeSize: Math.max(config.partSize, FAST_RANGE_MIN),
            concurrency: Math.max(config.concurrency, 2),
          },
          path,
          opts,
        );
      } catch (e) {
        throw err(e, `get ${key}`, opts.signal);
      }
    },

    async *list(listPrefix, opts = {}) {
      const base = prefix ? `${prefix}/` : '';
      let token: string | undefined;
      do {
        if (opts.signal?.aborted) throw new InterruptedError();
        let page: import('@aws-sdk/client-s3').ListObjectsV2CommandOutput;
        try {
          page = await client.send(
            new sdk.ListObjectsV2Command({
              Bucket: bucket,
              Prefix: `${base}${listPrefix}`,
              ...(token ? { ContinuationToken: token } : {}),
            }),
            { abortSignal: opts.signal },
          );
        } catch (e) {
          throw err(e, `list ${listPrefix || '/'}`, opts.signal);
        }
        for (const o of page.Contents ?? []) {
          if (!o.Key?.startsWith(base)) continue;
          const key = o.Key.slice(base.length);
          if (key.split('/').some((s) => s.startsWith('.qnb-tmp-'))) continue;
          yield { key, size: o.Size ?? 0, ...(o.LastModified ? { modified: o.LastModified } : {}) };
        }
        // a page that says more follows but gives no token would end the listing early, and a
        // listing that misses objects makes copy and prune decide on half the facts
        if (page.IsTruncated && !page.NextContinuationToken)
          throw new QnbError(
            'E_SERVER',
            `list ${listPrefix || '/'}: the server said the listing goes on but gave no continuation token`,
            {
              hint: 'the S3 server does not implement ListObjectsV2 paging; use another server or report it',
            },
          );
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async remove(key, opts = {}) {
      try {
        await client.send(new sdk.DeleteObjectCommand({ Bucket: bucket, Key: full(key) }), {
          abortSignal: opts.signal,
        });
      } catch (e) {
        if (isNotFound(e)) return;
        throw err(e, `remove ${key}`, opts.signal);
      }
    },

    async incompleteUploads() {
      try {
        const r = await client.send(
          new sdk.ListMultipartUploadsCommand({
            Bucket: bucket,
            ...(prefix ? { Prefix: `${prefix}/` } : {}),
          }),
        );
        return (r.Uploads ?? []).map((u) => u.Key ?? '').sort();
      } catch (e) {
        throw err(e, 'list multipart uploads');
      }
    },

    async close() {
      client.destroy();
    },
  };
}
