/**
 * Encrypting a file on disk into a temporary `.age` file: read into one reused buffer, seal
 * (age-stream.ts), hash (sha256 of the plain bytes read and of the encrypted bytes written) and
 * write with one gathered write in flight while the next batch is sealed. Memory: a few MiB.
 * (A worker thread for the two hashes was measured and dropped: no faster on a busy machine, and
 * its own heap put the process over 150 MB; bench/FINDINGS.md.)
 *
 * No fsync: the file is a temporary one that the upload reads back and checks against the sha256
 * computed here before anything trusts it, and a crash makes it a leftover either way
 * (bench/FINDINGS.md: the fsync of 2 GiB cost more than the encryption).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { sealStream } from './age-stream.js';
import { InterruptedError, ioError } from './errors.js';
import { FILE_MODE } from './fs-safe.js';
import type { StreamResult } from './transfer.js';

/** Bytes per read of the source. */
const READ = 1 << 20;

/** Encrypts `source` into a new file `dest` (created exclusively): `head` first, then the payload. */
export async function sealFile(
  source: string,
  dest: string,
  head: Buffer[],
  key: Buffer,
  opts: { signal?: AbortSignal; onProgress?: (plainBytes: number) => void } = {},
): Promise<{ plain: StreamResult; cipher: StreamResult }> {
  const plainHash = createHash('sha256');
  const cipherHash = createHash('sha256');
  let plainBytes = 0;
  let cipherBytes = 0;
  const src = await open(source, 'r').catch((e) => {
    throw ioError(e as NodeJS.ErrnoException, source);
  });
  let out: Awaited<ReturnType<typeof open>> | undefined;
  let writing: Promise<void> | undefined;
  try {
    out = await open(dest, 'wx', FILE_MODE).catch((e) => {
      throw ioError(e as NodeJS.ErrnoException, dest);
    });
    const fh = out;
    async function* plain(): AsyncGenerator<Buffer> {
      const buf = Buffer.allocUnsafe(READ);
      for (;;) {
        const { bytesRead } = await src.read(buf, 0, READ, null);
        if (bytesRead === 0) return;
        const chunk = buf.subarray(0, bytesRead);
        plainHash.update(chunk);
        plainBytes += bytesRead;
        opts.onProgress?.(plainBytes);
        // the sealer copies the piece before it asks for the next one (age-stream.ts)
        yield chunk;
      }
    }
    /** One gathered write of the buffers (another for what a short write left). */
    const writeAll = async (bufs: Buffer[]) => {
      let left = bufs;
      while (left.length) {
        let n = (await fh.writev(left)).bytesWritten;
        while (left.length && n >= left[0]!.length) {
          n -= left[0]!.length;
          left = left.slice(1);
        }
        if (n > 0) left = [left[0]!.subarray(n), ...left.slice(1)];
      }
    };
    async function* all(): AsyncGenerator<Buffer[]> {
      yield head.map((b) => Buffer.from(b));
      yield* sealStream(plain(), key);
    }
    for await (const bufs of all()) {
      if (opts.signal?.aborted) throw new InterruptedError();
      for (const b of bufs) {
        cipherHash.update(b);
        cipherBytes += b.length;
      }
      await writing;
      writing = writeAll(bufs);
      // a failed write is thrown by the `await` above or below, not reported as unhandled meanwhile
      writing.catch(() => {});
    }
    await writing;
    return {
      plain: { bytes: plainBytes, sha256: plainHash.digest('hex') },
      cipher: { bytes: cipherBytes, sha256: cipherHash.digest('hex') },
    };
  } catch (e) {
    await writing?.catch(() => {});
    const err = e as NodeJS.ErrnoException;
    throw err.syscall === 'write' || err.syscall === 'writev' || err.syscall === 'read'
      ? ioError(err, dest)
      : err;
  } finally {
    await src.close().catch(() => {});
    await out?.close().catch(() => {});
  }
}
