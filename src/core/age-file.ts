/**
 * Encrypting a file on disk on both cores (age-seal-worker.ts has the shared-memory layout and the
 * worker), into a file (sealFile) or into nothing (sealSource without a sink: the first pass of
 * an encrypted copy, which only checks and hashes). The main thread reads the source into a ring
 * of 1 MiB slots (the next read in flight while it works on the last one), hashes the plaintext
 * in order (checked against the manifest by age.ts), seals the even batches and hands every batch
 * to the sink in order; the worker seals the odd batches and hashes the ciphertext (header
 * included) in order. Each of the two sequential hashes costs about as much as the sealing, so
 * the split keeps both cores equally busy (bench/FINDINGS.md). Memory: two rings of 4 MiB and the
 * worker's small heap.
 *
 * sealFile does no fsync: its file is one the `age` CLI could have written (tests, the bench);
 * copies never write the ciphertext to disk. An error or an interrupt stops the worker before
 * the pass returns; sealFile's caller removes the file.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import {
  CIPHER_SLOT,
  CTL,
  keepFreedChunks,
  PLAIN_SLOT,
  SCAVENGE_EVERY,
  type SealShared,
  SLOTS,
  scavenger,
  sealBatch,
  workerSource,
} from './age-seal-worker.js';
import { waitAsync } from './byte-ring.js';
import { InterruptedError, ioError } from './errors.js';
import { FILE_MODE } from './fs-safe.js';
import type { StreamResult } from './transfer.js';

type Handle = Awaited<ReturnType<typeof open>>;

/** Ciphertext bytes of a batch of `len` plaintext bytes (an empty batch is one empty chunk). */
const sealedLength = (len: number) => len + 16 * Math.max(1, Math.ceil(len / (64 * 1024)));

/** Writes all of `buf` (another write for what a short write left). */
async function writeFull(fh: Handle, buf: Buffer): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, null)).bytesWritten;
}

/** Reads until `buf` is full or the file ends; returns the bytes read. */
export async function readFull(fh: Handle, buf: Buffer): Promise<number> {
  let n = 0;
  while (n < buf.length) {
    const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}

/** Options of a sealing pass. */
export interface SealOptions {
  signal?: AbortSignal;
  onProgress?: (plainBytes: number) => void;
}

/**
 * Receives the head, then the ciphertext of every batch, in order. The buffer is a view of the
 * ring: it stays valid until the returned promise settles, not after.
 */
export type SealSink = (bytes: Buffer) => Promise<void>;

/** Encrypts `source` into a new file `dest` (created exclusively): `head` first, then the payload. */
export async function sealFile(
  source: string,
  dest: string,
  head: Buffer[],
  key: Buffer,
  opts: SealOptions = {},
): Promise<{ plain: StreamResult; cipher: StreamResult }> {
  let out: Handle | undefined;
  // created once the source opened (the head comes first)
  const write = async (b: Buffer) => {
    out ??= await open(dest, 'wx', FILE_MODE).catch((e) => {
      throw ioError(e as NodeJS.ErrnoException, dest);
    });
    await writeFull(out, b);
  };
  try {
    return await sealSource(source, head, key, write, opts).catch((e) => {
      throw (e as NodeJS.ErrnoException).syscall === 'write' ? ioError(e, dest) : e;
    });
  } finally {
    await out?.close().catch(() => {});
  }
}

/**
 * Encrypts `source` (`head` first, then the payload) into `sink` (nothing is written without
 * one); returns size and sha256 of the plaintext read and of the ciphertext.
 */
export async function sealSource(
  source: string,
  head: Buffer[],
  key: Buffer,
  sink: SealSink | undefined,
  opts: SealOptions = {},
): Promise<{ plain: StreamResult; cipher: StreamResult }> {
  const plainHash = createHash('sha256');
  let plainBytes = 0;
  const shared: SealShared = {
    ctl: new SharedArrayBuffer(CTL.SIZE * 4),
    plain: new SharedArrayBuffer(SLOTS * PLAIN_SLOT),
    cipher: new SharedArrayBuffer(SLOTS * CIPHER_SLOT),
    key,
    head,
    layout: {
      f: CTL,
      slots: SLOTS,
      plainSlot: PLAIN_SLOT,
      cipherSlot: CIPHER_SLOT,
      scavengeEvery: SCAVENGE_EVERY,
    },
  };
  const ctl = new Int32Array(shared.ctl);
  const scavenge = scavenger();
  keepFreedChunks();
  Atomics.store(ctl, CTL.TOTAL, -1);
  const plainView = (s: number) => Buffer.from(shared.plain, s * PLAIN_SLOT, PLAIN_SLOT);
  const cipherView = (s: number) => Buffer.from(shared.cipher, s * CIPHER_SLOT, CIPHER_SLOT);
  let failure: unknown;
  let cipher: StreamResult | undefined;
  const bump = () => {
    Atomics.add(ctl, CTL.SEQ, 1);
    Atomics.notify(ctl, CTL.SEQ);
  };
  const fail = (e: unknown) => {
    failure ??= e;
    bump();
  };
  /** Waits, without blocking the event loop, until `ready()`; throws a failure or an interrupt. */
  const until = async (ready: () => boolean) => {
    for (;;) {
      if (failure) throw failure;
      if (opts.signal?.aborted) throw new InterruptedError();
      const seen = Atomics.load(ctl, CTL.SEQ);
      if (ready()) return;
      const w = waitAsync(ctl, CTL.SEQ, seen);
      if (w.async) await w.value;
    }
  };
  opts.signal?.addEventListener('abort', bump);
  const src = await open(source, 'r').catch((e) => {
    throw ioError(e as NodeJS.ErrnoException, source);
  });
  let worker: Worker | undefined;
  let reading: Promise<number> | undefined;
  let writing: Promise<void> = Promise.resolve();
  try {
    // no execArgv of the parent's (a loader such as tsx): the worker needs only Node's builtins
    worker = new Worker(workerSource(), { eval: true, workerData: shared, execArgv: [] });
    worker.on('message', (m: StreamResult) => {
      cipher = m;
      bump();
    });
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (!cipher) fail(new Error(`the encryption worker stopped early (exit code ${code})`));
    });
    await sink?.(Buffer.concat(head));
    let written = 0;
    /** A slot may take batch `b` once batch `b - SLOTS` was written and its ciphertext hashed. */
    const slotFree = (b: number) =>
      b < SLOTS || (written > b - SLOTS && Atomics.load(ctl, CTL.HASHED) > b - SLOTS);
    /** Batch `b` (in its slot) goes to the worker; the even ones are sealed here; all are written. */
    const publish = (b: number, len: number, last: boolean) => {
      const s = b % SLOTS;
      const plain = plainView(s).subarray(0, len);
      plainHash.update(plain);
      plainBytes += len;
      opts.onProgress?.(plainBytes);
      Atomics.store(ctl, CTL.LEN + s, len);
      Atomics.store(ctl, CTL.LAST + s, last ? 1 : 0);
      Atomics.store(ctl, CTL.FILLED, b + 1);
      if (last) Atomics.store(ctl, CTL.TOTAL, b + 1);
      bump();
      if (b % 2 === 0) {
        sealBatch(createCipheriv, key, b, plain, last, cipherView(s));
        Atomics.store(ctl, CTL.SEALED + s, b + 1);
        bump();
        if (b % (2 * SCAVENGE_EVERY) === 0) scavenge();
      }
      writing = writing.then(async () => {
        await until(() => Atomics.load(ctl, CTL.SEALED + s) === b + 1);
        await sink?.(cipherView(s).subarray(0, sealedLength(len)));
        written = b + 1;
        bump();
      });
      // a failed write stops the loop below (through `until`) and is thrown by `await writing`
      writing.catch(fail);
    };
    // batch b is known to be the last only once the read after it found the end of the file
    let b = 0;
    let next = readFull(src, plainView(0));
    for (;;) {
      reading = next;
      const len = await next;
      reading = undefined;
      const full = len === PLAIN_SLOT;
      if (full) {
        await until(() => slotFree(b + 1));
        next = readFull(src, plainView((b + 1) % SLOTS));
        reading = next;
        next.catch(() => {});
      }
      if (b > 0) publish(b - 1, PLAIN_SLOT, len === 0);
      if (!full) {
        if (len > 0 || b === 0) publish(b, len, true);
        break;
      }
      b++;
    }
    await writing;
    await until(() => cipher !== undefined);
    return { plain: { bytes: plainBytes, sha256: plainHash.digest('hex') }, cipher: cipher! };
  } catch (e) {
    await writing.catch(() => {});
    await reading?.catch(() => {});
    const err = e as NodeJS.ErrnoException;
    throw err.syscall === 'read' ? ioError(err, source) : err;
  } finally {
    opts.signal?.removeEventListener('abort', bump);
    Atomics.store(ctl, CTL.STOP, 1);
    bump();
    await worker?.terminate();
    await src.close().catch(() => {});
  }
}
