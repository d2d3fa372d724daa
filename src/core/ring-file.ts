/**
 * A new file fed from a byte ring (byte-ring.ts): each piece a socket read into the ring's current
 * slot is committed to the ring, whose threads write it to the file from there with no copy and
 * hash it (large transfers; small ones write and hash inline on commit); a background
 * `fdatasync` every 32 MiB keeps the final `fsync` short. The receiving side (raw-http.ts) reads
 * into `slot()` and calls `write`; one file may take the bodies of several answers in turn (the
 * ranges of one S3 object), the hash running on across them.
 */
import { closeSync, fdatasync, fsync, openSync } from 'node:fs';
import { createByteRing } from './byte-ring.js';
import { ioError } from './errors.js';
import { SYNC_EVERY } from './file-writer.js';
import { FILE_MODE } from './fs-safe.js';
import { type StreamResult, throttled } from './transfer.js';

/** Transfers at least this large hash on a worker thread; smaller ones inline. */
export const WORKER_MIN_BYTES = 8 << 20;

/** Size of the buffer sockets are given before their turn. */
const PARKING_BYTES = 64 * 1024;

/** The file side of a transfer through the ring. */
export interface RingFile {
  /** The memory the next socket read goes into. */
  slot(): Buffer;
  /**
   * A small buffer that is not in the ring, for sockets that are not reading yet: Node asks a
   * socket's buffer when the socket is created, and a ring slot handed out then would be written
   * into long after it moved on (raw-http.ts copies that first read into the current slot).
   */
  readonly parking: Buffer;
  /** Creates the file (`wx`, 0600): once the answer is known good, never before. */
  open(): void;
  /** True once `open()` created the file. */
  opened(): boolean;
  /**
   * Writes `n` bytes of `buf` (the current slot) from `from` and hands them to the hash. Returns
   * false when the ring is full: read nothing more until `free()` resolves.
   */
  write(buf: Buffer, from: number, n: number): boolean;
  free(): Promise<void>;
  /** Bytes written so far. */
  bytes(): number;
  /** Waits for the hash and the background flush, fsyncs; size and sha256 of what was written. */
  finish(): Promise<StreamResult>;
  /** Stops the hashing thread and closes the file (after any flush of ours); safe to repeat. */
  close(): Promise<void>;
}

export interface RingFileOptions {
  /** The expected size: decides worker or inline hashing. */
  expectedBytes?: number;
  onProgress?: (bytes: number) => void;
  /** A background flush failed (an `E_IO` error): the transfer must stop. */
  onError: (err: Error) => void;
}

/** A ring and a file at `path` (not created until `open()`). */
export function createRingFile(path: string, opts: RingFileOptions): RingFile {
  const ring = createByteRing({ worker: (opts.expectedBytes ?? 0) >= WORKER_MIN_BYTES, write: true });
  // a write that failed (on the ring's writing thread too) names the file
  const named = (err: unknown): Error => {
    const e = err as NodeJS.ErrnoException;
    return e.syscall === 'write' ? ioError(e, path) : e;
  };
  const progress = throttled(opts.onProgress);
  let fd: number | undefined;
  let bytes = 0;
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  const backgroundSync = (file: number) => {
    unsynced = 0;
    syncing = new Promise<void>((done, bad) => fdatasync(file, (e) => (e ? bad(e) : done())));
    syncing.then(
      () => {
        syncing = undefined;
      },
      (e: Error) => opts.onError(ioError(e as NodeJS.ErrnoException, path)),
    );
  };
  return {
    slot: () => ring.slot(),
    parking: Buffer.allocUnsafe(PARKING_BYTES),
    open() {
      try {
        fd = openSync(path, 'wx', FILE_MODE);
        ring.setFile(fd);
      } catch (err) {
        throw ioError(err as NodeJS.ErrnoException, path);
      }
    },
    opened: () => fd !== undefined,
    write(_buf, from, n) {
      if (n === 0) return true;
      let more: boolean;
      try {
        more = ring.commit(from, n);
      } catch (err) {
        throw named(err);
      }
      bytes += n;
      unsynced += n;
      if (unsynced >= SYNC_EVERY && !syncing) backgroundSync(fd as number);
      progress(bytes);
      return more;
    },
    free: () => ring.free().catch((err) => Promise.reject(named(err))),
    bytes: () => bytes,
    async finish() {
      await syncing;
      const sha256 = await ring.digest().catch((err) => Promise.reject(named(err)));
      await new Promise<void>((done, bad) =>
        fsync(fd as number, (e) => (e ? bad(ioError(e, path)) : done())),
      );
      opts.onProgress?.(bytes);
      return { bytes, sha256 };
    },
    async close() {
      await ring.close();
      // no fdatasync of ours may still run on the descriptor when it is closed
      await syncing?.catch(() => {});
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
