/**
 * Settings of an S3-compatible copy destination (AWS S3, Ceph radosgw, versitygw, MinIO, R2, B2 …), and
 * the parser of `s3://bucket/prefix`. Credentials come from the configuration (AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, their *_FILE variants, or the config file) or, when
 * none is set, from a named AWS profile (AWS_PROFILE, ~/.aws/credentials).
 */
import { ConfigError, QnbError } from '../../core/errors.js';

/** Settings of the S3 backend. */
export interface S3BackendConfig {
  bucket: string;
  /** Key prefix inside the bucket, without leading or trailing `/`; `''` = the bucket's root. */
  prefix: string;
  /** Endpoint URL of an S3-compatible server; unset = AWS. */
  endpoint?: string;
  /** @default 'us-east-1' */
  region: string;
  /** Path-style URLs (`http://host/bucket/key`). @default true when `endpoint` is set */
  forcePathStyle?: boolean;
  /** Secret. */
  accessKeyId?: string;
  /** Secret. */
  secretAccessKey?: string;
  /** Secret. */
  sessionToken?: string;
  /** AWS profile used when no keys are set. */
  profile?: string;
  /** Bytes per multipart part (S3 needs ≥ 5 MiB). Memory used ≈ (concurrency + 1) × part size. @default 8 MiB */
  partSize: number;
  /** Parts uploaded at once. @default 3 */
  concurrency: number;
}

/** S3's smallest part size (except the last part). */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
/** Default part size. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
/** S3's largest number of parts in one upload. */
export const MAX_PARTS = 10_000;

/** `s3://bucket/prefix` → bucket and prefix. Throws E_USAGE naming what is wrong. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url.trim());
  if (!m) throw new QnbError('E_USAGE', `"${url}" is not an s3://bucket/prefix URL`);
  const bucket = m[1] ?? '';
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new QnbError('E_USAGE', `s3://${bucket}: "${bucket}" is not a valid bucket name`, {
      hint: 'bucket names have 3–63 lower-case letters, digits, dots or hyphens: s3://my-backups/qnb',
    });
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '').replace(/\/{2,}/g, '/');
  if (prefix.split('/').some((s) => s === '.' || s === '..')) {
    throw new QnbError('E_USAGE', `${url}: the prefix may not hold "." or ".." segments`);
  }
  return { bucket, prefix };
}

/** S3's largest part. */
export const MAX_PART_SIZE = 5 * 1024 ** 3;
/** Parts qnb aims below, a margin under S3's 10,000. */
const TARGET_PARTS = 9_000;

/**
 * Part size for an object of `size` bytes: the configured size, raised (to whole MiB) so the upload
 * takes at most 9,000 parts; a 2 GiB snapshot goes in 8 MiB parts, 1 TiB in 117 MiB parts. Objects
 * past what 10,000 parts of 5 GiB hold (S3's own limits, ~48 TiB) are refused before any request.
 */
export function partSizeFor(size: number, configured: number): number {
  const min = Math.max(configured, MIN_PART_SIZE, Math.ceil(size / TARGET_PARTS));
  const mib = 1024 * 1024;
  const part = Math.ceil(min / mib) * mib;
  if (part > MAX_PART_SIZE && Math.ceil(size / MAX_PART_SIZE) > MAX_PARTS)
    throw new QnbError(
      'E_UNSUPPORTED',
      `an object of ${size} bytes is larger than S3 can store in one object`,
      {
        hint: 'S3 stores at most 10,000 parts of 5 GiB in one object',
      },
    );
  return Math.min(part, MAX_PART_SIZE);
}

/** Part buffers an upload may hold at once before it lowers its concurrency. */
export const PART_BUFFER_BUDGET = 128 * 1024 * 1024;

/**
 * Parts in flight for parts of `partSize`: the configured number, lowered so the buffers
 * ((concurrency + 1) × part size) stay within 128 MiB, never below one. Large objects get large
 * parts (a 1 TiB snapshot: 117 MiB) and would otherwise hold several of them at once.
 */
export function concurrencyFor(partSize: number, configured: number): number {
  return Math.max(1, Math.min(configured, Math.floor(PART_BUFFER_BUDGET / partSize) - 1));
}

/** Checks that credentials can be found without asking a metadata service on the network. */
export function checkCredentials(c: S3BackendConfig): void {
  if (c.accessKeyId && !c.secretAccessKey)
    throw new ConfigError(
      'AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not',
      'set both, or neither and use AWS_PROFILE',
    );
  if (!c.accessKeyId && c.secretAccessKey)
    throw new ConfigError(
      'AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not',
      'set both, or neither and use AWS_PROFILE',
    );
  if (!c.accessKeyId && !c.profile)
    throw new ConfigError(
      `s3://${c.bucket}: no S3 credentials`,
      'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or their *_FILE variants), or AWS_PROFILE',
    );
}
