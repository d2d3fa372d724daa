/**
 * Bench-local (issue 14, measured and NOT adopted — bench/FINDINGS.md): the end of streamToFile as
 * a Writable whose bytes a worker thread writes to the file and hashes
 * (sha256 of exactly the buffers it wrote), flushing them to disk in the background every
 * `syncEvery` bytes and fsyncing at the end. The thread that receives the data only copies each
 * chunk into one of a few fixed 1 MiB buffers, which travel to the worker and back (transferred,
 * never copied again): memory stays at `POOL × 1 MiB` whatever the file size, and a full pool
 * pauses the source (backpressure). bench/FINDINGS.md has the measurements behind the design.
 */
import { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';

/** Buffers in flight between the receiving thread and the worker. */
const POOL = 8;
const BUF = 1 << 20;
/** Background fdatasync every this many bytes: the final fsync then has little left to write. */
export const SYNC_EVERY = 32 << 20;

/**
 * What the worker runs (plain CommonJS, no loader: it starts in ~25 ms). Each buffer is hashed
 * on arrival, then written by the libuv pool (one write at a time, in order) while the next one
 * is hashed; it goes back to the receiving thread only once written, so the bytes hashed are the
 * bytes written. Every `syncEvery` bytes written an fdatasync runs in the background.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const { fd, syncEvery } = workerData;
const hash = createHash('sha256');
const queue = [];
let writing = false;
let bytes = 0;
let unsynced = 0;
let syncing = null;
let ending = false;
let failed = false;
const fail = (err) => {
  if (failed) return;
  failed = true;
  parentPort.postMessage({ type: 'error', message: err.message, code: err.code, syscall: err.syscall, errno: err.errno });
};
const finish = () => {
  Promise.resolve(syncing).then(() => {
    if (failed) return;
    fs.fsync(fd, (err) => {
      if (err) return fail(err);
      parentPort.postMessage({ type: 'done', bytes, sha256: hash.digest('hex') });
    });
  });
};
const writeNext = () => {
  if (failed) return;
  const m = queue.shift();
  if (!m) {
    writing = false;
    if (ending) finish();
    return;
  }
  writing = true;
  const buf = new Uint8Array(m.buffer, 0, m.length);
  const rest = (off) =>
    fs.write(fd, buf, off, m.length - off, null, (err, n) => {
      if (err) return fail(err);
      if (off + n < m.length) return rest(off + n);
      bytes += m.length;
      unsynced += m.length;
      if (syncEvery > 0 && unsynced >= syncEvery && !syncing) {
        unsynced = 0;
        syncing = new Promise((resolve) =>
          fs.fdatasync(fd, (e) => { if (e) fail(e); syncing = null; resolve(); }),
        );
      }
      parentPort.postMessage({ type: 'free', buffer: m.buffer }, [m.buffer]);
      writeNext();
    });
  rest(0);
};
parentPort.on('message', (m) => {
  if (failed) return;
  try {
    if (m.type === 'data') {
      hash.update(new Uint8Array(m.buffer, 0, m.length));
      queue.push(m);
      if (!writing) writeNext();
    } else if (m.type === 'end') {
      ending = true;
      if (!writing) finish();
    }
  } catch (err) {
    fail(err);
  }
});
`;

/** An fs error from the worker, as the errno exception Node would have thrown on this thread. */
function workerError(m: { message: string; code?: string; syscall?: string; errno?: number }): Error {
  const err = new Error(m.message) as NodeJS.ErrnoException;
  if (m.code) err.code = m.code;
  if (m.syscall) err.syscall = m.syscall;
  if (m.errno !== undefined) err.errno = m.errno;
  return err;
}

/** A Writable into the open file `fd` (not closed here); `result()` once it finished. */
export function hashingFileWriter(
  fd: number,
  onBytes: (bytes: number) => void,
  syncEvery = SYNC_EVERY,
  pool = POOL,
): Writable & { result(): { bytes: number; sha256: string }; stop(): Promise<void> } {
  const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { fd, syncEvery } });
  const free: ArrayBuffer[] = Array.from({ length: pool }, () => new ArrayBuffer(BUF));
  let current: Uint8Array | undefined;
  let filled = 0;
  let copied = 0;
  /** A write waiting for a free buffer. */
  let waiting: (() => void) | undefined;
  let onDone: ((err?: Error) => void) | undefined;
  let result: { bytes: number; sha256: string } | undefined;
  let error: Error | undefined;
  const failWith = (err: Error) => {
    error ??= err;
    const w = waiting;
    waiting = undefined;
    w?.();
    onDone?.(error);
  };
  worker.on('message', (m: { type: string; buffer?: ArrayBuffer; bytes?: number; sha256?: string }) => {
    if (m.type === 'free' && m.buffer) {
      free.push(m.buffer);
      const w = waiting;
      waiting = undefined;
      w?.();
    } else if (m.type === 'done') {
      result = { bytes: m.bytes ?? 0, sha256: m.sha256 ?? '' };
      onDone?.();
    } else if (m.type === 'error') failWith(workerError(m as never));
  });
  worker.on('error', failWith);
  worker.on('exit', (code) => {
    if (!result) failWith(new Error(`the file writer thread stopped (exit code ${code})`));
  });
  const post = () => {
    if (!current || filled === 0) return;
    const buffer = current.buffer as ArrayBuffer;
    worker.postMessage({ type: 'data', buffer, length: filled }, [buffer]);
    current = undefined;
    filled = 0;
  };
  /** Copies `chunk` from `offset` into pool buffers, waiting for one when all are with the worker. */
  const copy = (chunk: Buffer, offset: number, cb: (err?: Error | null) => void): void => {
    while (offset < chunk.length) {
      if (error) {
        cb(error);
        return;
      }
      if (!current) {
        const next = free.pop();
        if (!next) {
          waiting = () => copy(chunk, offset, cb);
          return;
        }
        current = new Uint8Array(next);
      }
      const n = Math.min(BUF - filled, chunk.length - offset);
      current.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      copied += n;
      if (filled === BUF) post();
    }
    onBytes(copied);
    cb();
  };
  const w = new Writable({
    highWaterMark: BUF,
    write(chunk: Buffer, _enc, cb) {
      copy(chunk, 0, cb);
    },
    final(cb) {
      if (error) return cb(error);
      post();
      onDone = (err) => {
        onDone = undefined;
        if (!err && result && result.bytes !== copied)
          err = new Error(`the file writer wrote ${result.bytes} of ${copied} bytes`);
        void worker.terminate().finally(() => cb(err ?? null));
      };
      if (result) onDone();
      else worker.postMessage({ type: 'end' });
    },
    destroy(err, cb) {
      waiting = undefined;
      void worker.terminate().finally(() => cb(err));
    },
  });
  return Object.assign(w, {
    /** Ends the worker (if still running) and resolves once it is gone: then `fd` may be closed. */
    stop: async () => {
      await worker.terminate();
    },
    result: () => {
      if (!result) throw new Error('the file writer has not finished');
      return result;
    },
  });
}
