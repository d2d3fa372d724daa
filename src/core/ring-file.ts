/**
 * A new file fed from a byte ring (byte-ring.ts): each piece a socket read into the ring's current
 * slot is written from there with no copy, then committed to the hash; a background `fdatasync`
 * every 32 MiB keeps the final `fsync` short. Large transfers (hash on the worker) write in libuv's
 * thread pool, positioned, so receiving, writing and hashing run on three threads; small ones write
 * with `writeSync` and hash inline. The receiving side (raw-http.ts) reads
 * into `slot()` and calls `write`; one file may take the bodies of several answers in turn (the
 * ranges of one S3 object), the hash running on across them.
 */
import { closeSync, fdatasync, write as fsWrite, fsync, openSync, writeSync } from 'node:fs';
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

/**
 * Makes what a ring transfer writes into: `createRingFile` (the bytes as they come), or another
 * RingFile at the same path (ring-age.ts: an encrypted copy's plaintext).
 */
export type RingSinkFactory = (path: string, opts: RingFileOptions) => RingFile;

/** Writes `len` bytes of `buf` from `off` at file position `pos`, continuing short writes. */
function writeAt(fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (o: number, l: number, p: number) =>
      fsWrite(fd, buf, o, l, p, (err, n) => {
        if (err) reject(err);
        else if (n < l) step(o + n, l - n, p + n);
        else resolve();
      });
    step(off, len, pos);
  });
}

/** See createTargetFile. */
interface TargetFile {
  open(): void;
  opened(): boolean;
  /** Throws the first failed write or flush. */
  check(): void;
  /** Writes in the pool; the promise resolves when the write ended, failed or not. */
  writeAt(buf: Buffer, off: number, len: number, pos: number): Promise<void>;
  /** Writes on this thread. */
  writeSync(buf: Buffer, off: number, len: number): void;
  /** Waits for every write and the flush, then fsyncs. */
  finish(): Promise<void>;
  /** Closes the file once no write or fdatasync of ours runs on it; safe to repeat. */
  close(): Promise<void>;
}

/**
 * The new file a ring transfer writes: created on `open()` (`wx`, 0600), written in libuv's pool
 * at given positions (or inline), flushed with a background fdatasync every SYNC_EVERY bytes, and
 * fsynced by `finish()`. A failed write or flush is an `E_IO` error naming the file: handed to
 * `onError` (the transfer must stop) and thrown by the next `check()`. Without a path nothing is
 * written anywhere (a read-back that only hashes, `verify --from`).
 */
function createTargetFile(path: string | undefined, onError: (err: Error) => void): TargetFile {
  if (path === undefined) return noFile();
  let fd: number | undefined;
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  let failure: Error | undefined;
  const writing = new Set<Promise<void>>();
  const fail = (err: NodeJS.ErrnoException) => {
    failure ??= ioError(err, path);
    onError(failure);
  };
  const wrote = (n: number) => {
    unsynced += n;
    if (unsynced < SYNC_EVERY || syncing) return;
    unsynced = 0;
    const file = fd as number;
    syncing = new Promise<void>((done, bad) => fdatasync(file, (e) => (e ? bad(e) : done())));
    syncing.then(
      () => {
        syncing = undefined;
      },
      (e: Error) => fail(e),
    );
  };
  return {
    open() {
      try {
        fd = openSync(path, 'wx', FILE_MODE);
      } catch (err) {
        throw ioError(err as NodeJS.ErrnoException, path);
      }
    },
    opened: () => fd !== undefined,
    check() {
      if (failure) throw failure;
    },
    writeAt(buf: Buffer, off: number, len: number, pos: number): Promise<void> {
      const done: Promise<void> = writeAt(fd as number, buf, off, len, pos).then(
        () => {
          writing.delete(done);
        },
        (err: NodeJS.ErrnoException) => {
          writing.delete(done);
          fail(err);
        },
      );
      writing.add(done);
      wrote(len);
      return done;
    },
    writeSync(buf: Buffer, off: number, len: number) {
      try {
        for (let done = 0; done < len; ) done += writeSync(fd as number, buf, off + done, len - done);
      } catch (err) {
        throw ioError(err as NodeJS.ErrnoException, path);
      }
      wrote(len);
    },
    async finish() {
      await Promise.all(writing);
      // a failed background flush is `failure` by now (E_IO naming the file)
      await syncing?.catch(() => {});
      if (failure) throw failure;
      await new Promise<void>((done, bad) =>
        fsync(fd as number, (e) => (e ? bad(ioError(e, path)) : done())),
      );
    },
    async close() {
      await Promise.all(writing);
      await syncing?.catch(() => {});
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** The target of a transfer that writes nothing: every write done at once. */
function noFile(): TargetFile {
  let opened = false;
  const done = Promise.resolve();
  return {
    open: () => {
      opened = true;
    },
    opened: () => opened,
    check: () => {},
    writeAt: () => done,
    writeSync: () => {},
    finish: async () => {},
    close: async () => {},
  };
}

/**
 * A ring and a file at `path` (not created until `open()`); without a path, a ring that only
 * hashes what it is given.
 */
export function createRingFile(path: string | undefined, opts: RingFileOptions): RingFile {
  const worker = (opts.expectedBytes ?? 0) >= WORKER_MIN_BYTES;
  const ring = createByteRing({ worker });
  const progress = throttled(opts.onProgress);
  const file = createTargetFile(path, opts.onError);
  let bytes = 0;
  /**
   * With the worker's ring, writes run in libuv's thread pool, positioned, one per slot: the
   * receiving thread only reads the socket (bench/FINDINGS.md: page-cache writes were most of its
   * time). A slot is read into again only once its write is done and its bytes are hashed.
   */
  const writing = new Map<Buffer, Promise<void>>();
  const nextFree = () => !writing.has(ring.slot());
  return {
    slot: () => ring.slot(),
    parking: Buffer.allocUnsafe(PARKING_BYTES),
    open: () => file.open(),
    opened: () => file.opened(),
    write(buf, from, n) {
      if (n === 0) return true;
      file.check();
      if (worker) {
        const done = file.writeAt(buf, from, n, bytes).then(() => {
          writing.delete(buf);
        });
        writing.set(buf, done);
      } else file.writeSync(buf, from, n);
      bytes += n;
      progress(bytes);
      return ring.commit(from, n) && nextFree();
    },
    async free() {
      await ring.free();
      while (!nextFree()) await writing.get(ring.slot());
      file.check();
    },
    bytes: () => bytes,
    async finish() {
      await file.finish();
      const sha256 = await ring.digest();
      opts.onProgress?.(bytes);
      return { bytes, sha256 };
    },
    async close() {
      await ring.close();
      await file.close();
    },
  };
}
