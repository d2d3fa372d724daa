/**
 * The bytes of an encrypted copy, sealed while they are sent: no temporary file.
 *
 * planEncryption (age.ts) reads the backup once, checks its plaintext against the manifest and
 * learns the ciphertext's size and sha256 — what the backend checks the upload against before the
 * object becomes visible. encryptedStream then seals the same file again with the same header,
 * payload nonce and key, straight into the upload: the same bytes on every try, so a retry sends
 * what was promised, and a backup that changed in between is refused by the backend's check.
 * Why not a temporary file (bench/FINDINGS.md): writing 2 GiB of ciphertext and reading it back
 * cost more than sealing it twice, and its dirty pages made the S3 server's own writes cost it
 * three times the kernel time.
 *
 * One thread: the upload's own work (hashing every part, the requests) keeps the main thread busy
 * only part of the time, and a worker here cost ~10 MB of peak RSS for no measured gain. Memory:
 * two 1 MiB read buffers, the batch being sealed, and about 1 MiB waiting in the stream.
 */
import { createCipheriv } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { AgePlan } from './age.js';
import { readFull } from './age-file.js';
import { CIPHER_SLOT, PLAIN_SLOT, SCAVENGE_EVERY, scavenger, sealBatch } from './age-seal-worker.js';
import { InterruptedError, ioError } from './errors.js';

/** Bytes the stream holds ready before the sealing waits for the reader. */
const READY = 1 << 20;

/**
 * The encrypted file of `plan` (header, then the payload), sealed as it is read. Destroying the
 * stream stops it and closes the source; `signal` ends it with an InterruptedError.
 */
export function encryptedStream(plan: AgePlan, signal?: AbortSignal): Readable {
  return Readable.from(sealed(plan, signal), { objectMode: false, highWaterMark: READY });
}

async function* sealed(plan: AgePlan, signal?: AbortSignal): AsyncGenerator<Buffer> {
  yield Buffer.concat(plan.head);
  const scavenge = scavenger();
  const fh = await open(plan.source, 'r').catch((e) => {
    throw ioError(e as NodeJS.ErrnoException, plan.source);
  });
  const read = (buf: Buffer) =>
    readFull(fh, buf).catch((e) => {
      throw ioError(e as NodeJS.ErrnoException, plan.source);
    });
  try {
    let cur = Buffer.allocUnsafeSlow(PLAIN_SLOT);
    let next = Buffer.allocUnsafeSlow(PLAIN_SLOT);
    let len = await read(cur);
    // batch b is the last once the read after it found the end of the file (as the first pass)
    for (let b = 0; ; b++) {
      if (signal?.aborted) throw new InterruptedError();
      const nextLen = len === PLAIN_SLOT ? await read(next) : 0;
      const last = nextLen === 0;
      const out = Buffer.allocUnsafe(CIPHER_SLOT);
      yield out.subarray(0, sealBatch(createCipheriv, plan.key, b, cur.subarray(0, len), last, out));
      // the sealed chunks and the batches the reader let go of: a minor GC (age-seal-worker.ts)
      if (b % SCAVENGE_EVERY === 0) scavenge();
      if (last) return;
      [cur, next] = [next, cur];
      len = nextLen;
    }
  } finally {
    await fh.close().catch(() => {});
  }
}
