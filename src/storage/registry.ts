/**
 * Which backend a copy destination names, and the one visible function that builds it (restic's
 * `all.Backends()`): `s3://bucket/prefix` → S3, `memory://name` → memory (tests), anything else is
 * a folder path (absolute, or relative to the working folder; `file://` allowed).
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QnbError } from '../core/errors.js';
import type { CopyBackend } from './backend.js';
import { createDirBackend } from './dir/dir-backend.js';
import { createMemoryBackend } from './memory/memory-backend.js';
import { DEFAULT_PART_SIZE, parseS3Url, type S3BackendConfig } from './s3/s3-config.js';

/** A parsed copy destination: where off-site copies go. */
export type CopyDestination =
  | { kind: 'dir'; root: string }
  | { kind: 's3'; bucket: string; prefix: string }
  | { kind: 'memory'; name: string };

/** S3 settings from the configuration (everything but bucket and prefix, which the destination names). */
export type S3Settings = Partial<Omit<S3BackendConfig, 'bucket' | 'prefix'>>;

/** Parses what the user typed after `--to`, `--remote` or `--from`. */
export function parseDestination(raw: string, cwd: string): CopyDestination {
  const s = raw.trim();
  if (s === '')
    throw new QnbError('E_USAGE', 'empty copy target', { hint: 'use a folder or s3://bucket/prefix' });
  if (s.startsWith('s3://')) return { kind: 's3', ...parseS3Url(s) };
  if (s.startsWith('memory://')) return { kind: 'memory', name: s };
  if (s.startsWith('file://')) return { kind: 'dir', root: fileURLToPath(s) };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  if (scheme) {
    throw new QnbError('E_USAGE', `${scheme[1]}:// copy targets are not supported`, {
      hint: 'use a mounted folder or s3://bucket/prefix (S3-compatible: set QNB_S3_ENDPOINT)',
    });
  }
  return { kind: 'dir', root: isAbsolute(s) ? s : resolve(cwd, s) };
}

const memoryBackends = new Map<string, CopyBackend>();

/** Builds the backend for a destination. Loads the S3 SDK only for S3 destinations. */
export async function openCopyBackend(dest: CopyDestination, s3: S3Settings = {}): Promise<CopyBackend> {
  switch (dest.kind) {
    case 'dir':
      return createDirBackend({ root: dest.root });
    case 'memory': {
      // one store per name for the life of the process, so a test can copy, then list
      const b = memoryBackends.get(dest.name) ?? createMemoryBackend(dest.name);
      memoryBackends.set(dest.name, b);
      return b;
    }
    case 's3': {
      const { createS3Backend } = await import('./s3/s3-backend.js');
      return createS3Backend({
        region: 'us-east-1',
        partSize: DEFAULT_PART_SIZE,
        concurrency: 3,
        ...(Object.fromEntries(Object.entries(s3).filter(([, v]) => v !== undefined)) as S3Settings),
        bucket: dest.bucket,
        prefix: dest.prefix,
      });
    }
  }
}

/** Shows a destination for people (no secrets). */
export function describeDestination(dest: CopyDestination, s3: S3Settings = {}): string {
  if (dest.kind === 'dir') return dest.root;
  if (dest.kind === 'memory') return dest.name;
  const url = `s3://${dest.bucket}${dest.prefix ? `/${dest.prefix}` : ''}`;
  return s3.endpoint ? `${url} (${s3.endpoint})` : url;
}
