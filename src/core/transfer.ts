/**
 * Streams bytes to a temporary file while hashing them (sha256) and counting them, then fsyncs.
 * Never holds a whole file in memory.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createGzip, createInflate } from 'node:zlib';
import { ioError, QnbError } from './errors.js';
import { durableFileWriter } from './file-writer.js';
import { FILE_MODE } from './fs-safe.js';

/** Bytes and sha256 of what was streamed. */
export interface StreamResult {
  bytes: number;
  sha256: string;
}

/** Calls `onProgress(bytes)` at most every `everyMs` (progress lines and bars need no more). */
export function throttled(
  onProgress: ((bytes: number) => void) | undefined,
  everyMs = 200,
): (bytes: number) => void {
  if (!onProgress) return () => {};
  let last = 0;
  return (bytes) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    onProgress(bytes);
  };
}

/** A pass-through that only counts bytes (progress), for streams whose hash is checked elsewhere. */
export function byteCounter(
  onProgress?: (bytes: number) => void,
  everyMs = 200,
): Transform & { bytes(): number } {
  let bytes = 0;
  const progress = throttled(onProgress, everyMs);
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      progress(bytes);
      cb(null, chunk);
    },
  });
  return Object.assign(t, { bytes: () => bytes });
}

/** A pass-through that hashes and counts, reporting progress at most every `everyMs`. */
export function hashingCounter(
  onProgress?: (bytes: number) => void,
  everyMs = 200,
): Transform & { result(): StreamResult } {
  const hash = createHash('sha256');
  let bytes = 0;
  const progress = throttled(onProgress, everyMs);
  // 1 MiB buffers: with the 16 KiB default every network chunk became its own file write
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      progress(bytes);
      cb(null, chunk);
    },
  });
  return Object.assign(t, {
    result: () => {
      onProgress?.(bytes);
      return { bytes, sha256: hash.digest('hex') };
    },
  });
}

/** A decoder for a Content-Encoding, or an error for one qnb cannot decode. */
export function decoderFor(encoding: string): Transform {
  switch (encoding.toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'br':
      return createBrotliDecompress();
    case 'deflate':
      return createInflate();
    default:
      throw new QnbError(
        'E_SERVER',
        `the server sent the snapshot with Content-Encoding "${encoding}", which qnb cannot decode`,
        {
          hint: 'disable compression for snapshot downloads on the proxy in front of Qdrant',
        },
      );
  }
}

/**
 * Writes `source` to a new file at `path` (must not exist), decoding `encoding` if given (or
 * compressing with gzip when `gzip`), hashing the bytes as written, and fsyncing before it
 * resolves; a background fdatasync every 32 MiB keeps that final fsync short (file-writer.ts).
 */
export async function streamToFile(
  source: Readable,
  path: string,
  opts: {
    signal?: AbortSignal;
    onProgress?: (bytes: number) => void;
    encoding?: string;
    /** Compress with gzip before hashing and writing. @default false */
    gzip?: boolean;
  } = {},
): Promise<StreamResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  const progress = throttled(opts.onProgress);
  // first: an encoding qnb cannot decode throws before the file exists
  const decoder = opts.encoding ? decoderFor(opts.encoding) : undefined;
  let fh: FileHandle;
  try {
    fh = await open(path, 'wx', FILE_MODE);
  } catch (err) {
    source.destroy();
    throw ioError(err as NodeJS.ErrnoException, path);
  }
  const stages: Transform[] = [];
  if (decoder) stages.push(decoder);
  if (opts.gzip) stages.push(createGzip());
  const out = durableFileWriter(fh);
  const done = pipeline([source, ...stages, out] as unknown as NodeJS.ReadWriteStream[], {
    signal: opts.signal,
  });
  // The hash listens to the same 'data' events the pipe writes, instead of a Transform between
  // them (bench/FINDINGS.md: the extra stream stage cost CPU a busy download cannot spare). A
  // worker fed by postMessage lost (a copy and a message per chunk); the plain-http download
  // hashes on a worker through a shared ring instead (http-get-file.ts).
  (stages.at(-1) ?? source).on('data', (chunk: Buffer | string) => {
    hash.update(chunk);
    bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    progress(bytes);
  });
  try {
    await done;
    await fh.close();
  } catch (err) {
    // no write or sync of ours may still run on the descriptor when it is closed
    await out.settled();
    await fh.close().catch(() => {});
    const e = err as NodeJS.ErrnoException;
    if (e.syscall && ['write', 'writev', 'open', 'close', 'fsync', 'fdatasync'].includes(e.syscall))
      throw ioError(e, path);
    throw err;
  }
  opts.onProgress?.(bytes);
  return { bytes, sha256: hash.digest('hex') };
}

/** Size of the one buffer hashFile reads into. */
const HASH_READ = 1 << 20;

/**
 * sha256 and size of a file on disk, read in 1 MiB pieces into one reused buffer: no garbage
 * per piece, so hashing a 2 GB snapshot does not leave tens of MB of dead buffers for the GC
 * (restore hashes the file just before it uploads it; bench/FINDINGS.md).
 */
export async function hashFile(
  path: string,
  opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<StreamResult> {
  const hash = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ);
  let bytes = 0;
  const progress = throttled(opts.onProgress);
  let fh: FileHandle | undefined;
  try {
    fh = await open(path, 'r');
    for (;;) {
      opts.signal?.throwIfAborted();
      const { bytesRead } = await fh.read(buf, 0, HASH_READ, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
      progress(bytes);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw ioError(e, path);
    throw err;
  } finally {
    await fh?.close();
  }
  opts.onProgress?.(bytes);
  return { bytes, sha256: hash.digest('hex') };
}
