/**
 * Streams bytes to a temporary file while hashing them (sha256) and counting them, then fsyncs.
 * Never holds a whole file in memory.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { type Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createGzip, createInflate } from 'node:zlib';
import { ioError, QnbError } from './errors.js';
import { FILE_MODE } from './fs-safe.js';

/** Bytes and sha256 of what was streamed. */
export interface StreamResult {
  bytes: number;
  sha256: string;
}

/** A pass-through that only counts bytes (progress), for streams whose hash is checked elsewhere. */
export function byteCounter(
  onProgress?: (bytes: number) => void,
  everyMs = 200,
): Transform & { bytes(): number } {
  let bytes = 0;
  let last = 0;
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const now = Date.now();
      if (onProgress && now - last >= everyMs) {
        last = now;
        onProgress(bytes);
      }
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
  let last = 0;
  // 1 MiB buffers: with the 16 KiB default every network chunk became its own file write
  const t = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      const now = Date.now();
      if (onProgress && now - last >= everyMs) {
        last = now;
        onProgress(bytes);
      }
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
 * compressing with gzip when `gzip`), hashing the bytes as written, and fsyncing before it resolves.
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
  const counter = hashingCounter(opts.onProgress);
  const out = createWriteStream(path, { flags: 'wx', mode: FILE_MODE, flush: true, highWaterMark: 1 << 20 });
  const stages: NodeJS.ReadWriteStream[] = [];
  if (opts.encoding) stages.push(decoderFor(opts.encoding));
  if (opts.gzip) stages.push(createGzip());
  stages.push(counter);
  try {
    await pipeline([source, ...stages, out] as NodeJS.ReadWriteStream[], { signal: opts.signal });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall && ['write', 'open', 'close', 'fsync'].includes(e.syscall)) throw ioError(e, path);
    throw err;
  }
  return counter.result();
}

/** sha256 and size of a file on disk, streamed. */
export async function hashFile(
  path: string,
  opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<StreamResult> {
  const counter = hashingCounter(opts.onProgress);
  try {
    await pipeline(
      createReadStream(path, { highWaterMark: 1 << 20 }),
      counter,
      async (src) => {
        for await (const _ of src) {
          // drain
        }
      },
      { signal: opts.signal },
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall) throw ioError(e, path);
    throw err;
  }
  return counter.result();
}
