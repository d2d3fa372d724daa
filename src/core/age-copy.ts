/**
 * The bytes of an encrypted copy, sealed while they are sent: no temporary file.
 *
 * planEncryption (age.ts) reads the backup once, checks its plaintext against the manifest and
 * learns the ciphertext's size and sha256 — what the backend checks the upload against before the
 * object becomes visible. encryptedStream then seals the same file again with the same header,
 * payload nonce and key, straight into the upload: the same bytes on every try (so a retry sends
 * what was promised, or the backend refuses it — a backup that changed in between cannot become a
 * copy). Why not a temporary file (bench/FINDINGS.md): writing 2 GiB of ciphertext and reading it
 * back cost more than sealing it twice, and its dirty pages made the S3 server's own writes cost
 * it three times the kernel time.
 *
 * The worker seals every batch here; the main thread reads the source and hands each batch's
 * ciphertext on (a copy: the ring slot is reused once the copy is made). Memory: the two rings,
 * the worker, and at most about 2 MiB waiting in the stream.
 */
import { Readable } from 'node:stream';
import type { AgePlan } from './age.js';
import { sealSource } from './age-file.js';

/** Bytes the stream holds ready before the sealing waits for the reader. */
const READY = 1 << 20;

/** The encrypted file of `plan`, sealed as it is read; destroying the stream stops the sealing. */
export function encryptedStream(plan: AgePlan, signal?: AbortSignal): Readable {
  const stop = new AbortController();
  const stopped = signal ? AbortSignal.any([stop.signal, signal]) : stop.signal;
  let wake: (() => void) | undefined;
  const resume = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stopped.addEventListener('abort', resume, { once: true });
  let sealing: Promise<unknown> = Promise.resolve();
  const stream = new Readable({
    highWaterMark: READY,
    read: resume,
    destroy(err, cb) {
      stop.abort();
      // the worker is stopped before the stream reports itself closed
      sealing.then(() => cb(err));
    },
  });
  const sink = async (bytes: Buffer) => {
    if (stream.push(Buffer.from(bytes)) || stopped.aborted) return;
    await new Promise<void>((r) => {
      wake = r;
    });
  };
  sealing = sealSource(plan.source, plan.head, plan.key, sink, {
    signal: stopped,
    hashPlain: false,
    hashCipher: false,
    split: false,
  }).then(
    () => stream.push(null),
    (e) => stream.destroy(e),
  );
  return stream;
}
