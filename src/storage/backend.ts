/**
 * The CopyBackend contract: where off-site copies go (another folder, S3-compatible storage).
 * Shaped like restic's `Backend` and Kysely's `Driver`: a few async members, each saying what is
 * idempotent, what "not found" looks like and what is safe to retry. Keys are relative,
 * `/`-separated paths such as `qdrant/docs-backup-20261125-020000.snapshot` or `sets/<id>.json`;
 * a backend maps them below its root folder or bucket prefix.
 *
 * Every backend runs the one conformance suite in `test/suites/copy-backend-suite.ts`.
 */
import type { Readable } from 'node:stream';
import { QnbError } from '../core/errors.js';
import { TEMP_PREFIX } from '../core/fs-safe.js';
import type { RingSinkFactory } from '../core/ring-file.js';
import type { StreamResult } from '../core/transfer.js';

/** What kind of storage a backend writes to. */
export type BackendKind = 'dir' | 's3' | 'memory';

/** Facts about a backend that the CLI, `doctor` and the copy planner read (restic's `Properties`). */
export interface BackendProperties {
  kind: BackendKind;
  /** Where the copies go, for people, never holding a secret: `/mnt/usb/qnb`, `s3://bucket/prefix`. */
  location: string;
  /**
   * `stat()` returns the sha256 recorded when the object was put, without reading the object.
   * When false, proving an existing object's content means reading it back.
   */
  storesSha256: boolean;
  /** How `put` proves that the stored bytes are the bytes sent, in one sentence (shown by `copy`). */
  verification: string;
}

/** Options of every call. */
export interface CallOptions {
  /** Aborts the call; a `put` in flight leaves nothing under its key. */
  signal?: AbortSignal;
}

/** Options of `put`. */
export interface PutOptions extends CallOptions {
  /** Exact number of bytes the stream yields. */
  size: number;
  /** Lower-case hex sha256 the streamed bytes must have. */
  sha256: string;
  /** Bytes sent so far (called at most every ~200 ms). */
  onProgress?: (bytes: number) => void;
}

/** Options of `getToFile`. */
export interface GetToFileOptions extends CallOptions {
  /** The size the caller expects (decides how the bytes are hashed; the caller still checks it). */
  expectedBytes?: number;
  /** Bytes written so far (called at most every ~200 ms, and once at the end). */
  onProgress?: (bytes: number) => void;
  /**
   * What the object's bytes go into, at `path`, instead of a copy of them (an encrypted copy is
   * decrypted as it arrives, core/ring-age.ts); the result is still the object's size and sha256.
   */
  sink?: RingSinkFactory;
}

/** One stored object. */
export interface ObjectInfo {
  /** Key relative to the backend's root. */
  key: string;
  size: number;
  /** sha256 recorded at put time (only when `storesSha256`; never from `list`). */
  sha256?: string;
  modified?: Date;
}

/** Off-site storage for copies of backup sets. */
export interface CopyBackend {
  /** The location, as `properties().location`. */
  readonly name: string;
  /** Facts about this backend. */
  properties(): BackendProperties;
  /**
   * Stores `body` under `key`, replacing what was there. The object becomes visible only complete and
   * verified: the bytes streamed must number `size` and hash to `sha256`, and the storage must confirm
   * them (fsync + rename for folders; server-checked sha256 per part for S3). On any
   * failure or abort nothing new is visible under `key` (an earlier object stays) and the error is a
   * QnbError (`E_CHECKSUM` when the bytes were not the ones promised). Not idempotent by itself, since
   * the stream is consumed: retry with a fresh stream.
   */
  put(key: string, body: Readable, opts: PutOptions): Promise<ObjectInfo>;
  /** The object's bytes as a stream. Throws `NotFoundError` when there is no such key. Safe to retry. */
  get(key: string, opts?: CallOptions): Promise<Readable>;
  /**
   * Optional fast path for restores and read-backs: the object's bytes through a ring (its worker
   * hashing) into a new file at `path` (which must not exist), fsynced — or into `opts.sink`,
   * which decides what happens at `path` — resolving the object's size and sha256; or `undefined`
   * without creating anything when this backend cannot take the fast path for it (the caller then
   * uses `get`). S3 over plain http (raw sockets) and folders have it. On a failure the file may
   * exist: the caller removes it. Safe to retry with a fresh path.
   */
  getToFile?(key: string, path: string, opts?: GetToFileOptions): Promise<StreamResult | undefined>;
  /** Size (and sha256, see `storesSha256`) of one object; `undefined` when there is none. Safe to retry. */
  stat(key: string, opts?: CallOptions): Promise<ObjectInfo | undefined>;
  /**
   * Every complete object whose key starts with `prefix` (`''` for all), sorted by key. Leftovers of
   * interrupted puts never appear. A missing bucket or root folder is an error, not an empty list.
   */
  list(prefix: string, opts?: CallOptions): AsyncIterable<ObjectInfo>;
  /** Deletes one object. Idempotent: removing a missing key succeeds. */
  remove(key: string, opts?: CallOptions): Promise<void>;
  /** Releases connections. Idempotent. */
  close(): Promise<void>;
}

/**
 * Throws unless `key` is a clean relative key: non-empty `/`-separated segments, no `.`/`..`, no
 * backslash or NUL, and no segment starting with qnb's temporary prefix.
 */
export function checkKey(key: string): void {
  const segments = key.split('/');
  const bad =
    key === '' ||
    key.includes('\\') ||
    key.includes('\0') ||
    segments.some((s) => s === '' || s === '.' || s === '..' || s.startsWith(TEMP_PREFIX));
  if (bad) throw new QnbError('E_INTERNAL', `invalid storage key "${key}"`);
}

/** Throws `E_CHECKSUM` when streamed bytes are not the ones promised to `put`. */
export function checkStreamed(
  where: string,
  got: { bytes: number; sha256: string },
  want: { size: number; sha256: string },
): void {
  if (got.bytes !== want.size) {
    throw new QnbError(
      'E_CHECKSUM',
      `${where}: read ${got.bytes} bytes, expected ${want.size}; nothing stored`,
      {
        hint: 'the source changed or is truncated: run `qnb verify`',
      },
    );
  }
  if (got.sha256 !== want.sha256) {
    throw new QnbError(
      'E_CHECKSUM',
      `${where}: sha256 of the bytes read differs from the manifest; nothing stored`,
      {
        hint: 'the source file is corrupt: run `qnb verify`',
      },
    );
  }
}
