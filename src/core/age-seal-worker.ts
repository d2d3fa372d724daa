/**
 * The shared-memory layout and the worker side of the two-thread age encryption (age-file.ts).
 *
 * The plaintext goes through a ring of SLOTS batches of BATCH_CHUNKS 64 KiB chunks in a
 * SharedArrayBuffer; every batch's ciphertext goes into the matching slot of a second ring. Chunks
 * are independent (each chunk's nonce is its counter), so the batches are split between the two
 * threads: the main thread reads, hashes the plaintext (in order), seals the even batches and
 * writes; the worker seals the odd batches and hashes the ciphertext (header, then every batch in
 * order). No message per batch: both sides publish progress in an Int32Array and wake each other
 * with Atomics (the main thread waits with Atomics.waitAsync, never blocking its event loop).
 *
 * The worker runs `workerMain` from source text (`eval`): no file to resolve next to the built
 * code or under tsx, and nothing of qnb's loaded in it (its heap stays small).
 */
import type { createCipheriv as CreateCipheriv, createHash as CreateHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MessagePort } from 'node:worker_threads';
import { CHUNK, SEALED_CHUNK } from './age-stream.js';

/** Chunks per batch (1 MiB of plaintext). */
export const BATCH_CHUNKS = 16;
/** Batches in each ring: what is read ahead and waits to be written, 4 MiB each way (at least 3:
 * while the next read waits for a free slot, the two batches before it are not yet published). */
export const SLOTS = 4;

/** Int32 fields of the control array. */
export const CTL = {
  /** Bumped (and notified) on every change; a waiter sleeps on it. */
  SEQ: 0,
  /** Batches whose plaintext is in its slot (published in order by the main thread). */
  FILLED: 1,
  /** Batches whose ciphertext the worker hashed. */
  HASHED: 2,
  /** Total batches once the last one is published, else -1. */
  TOTAL: 4,
  /** 1: the worker stops now (error, interrupt or done). */
  STOP: 5,
  /** Per slot from here: the batch sealed into it, plus one. */
  SEALED: 8,
  /** Per slot from here: plaintext bytes of the batch in it. */
  LEN: 8 + SLOTS,
  /** Per slot from here: 1 when the batch in it ends the file. */
  LAST: 8 + 2 * SLOTS,
  SIZE: 8 + 3 * SLOTS,
} as const;

export interface SealShared {
  ctl: SharedArrayBuffer;
  plain: SharedArrayBuffer;
  cipher: SharedArrayBuffer;
  key: Uint8Array;
  /** Bytes before the payload (header and nonce): the ciphertext hash starts with them. */
  head: Uint8Array[];
  layout: { f: typeof CTL; slots: number; plainSlot: number; cipherSlot: number; scavengeEvery: number };
}

export const PLAIN_SLOT = BATCH_CHUNKS * CHUNK;
export const CIPHER_SLOT = BATCH_CHUNKS * SEALED_CHUNK;

/**
 * Seals batch `batch` (its plaintext `plain`, `last` when it ends the file) into `out`; returns
 * the ciphertext length. Self-contained: the worker runs it from its source text too.
 */
export function sealBatch(
  cc: typeof CreateCipheriv,
  key: Uint8Array,
  batch: number,
  plain: Buffer,
  last: boolean,
  out: Buffer,
): number {
  const chunkBytes = 64 * 1024;
  const chunks = Math.max(1, Math.ceil(plain.length / chunkBytes));
  const nonce = Buffer.alloc(12);
  let at = 0;
  for (let i = 0; i < chunks; i++) {
    // 16 = BATCH_CHUNKS (a literal: this function also runs from its source text in the worker)
    const counter = batch * 16 + i;
    // bytes 0–10 are the counter; 6 bytes hold any counter a file can reach (2^48 × 64 KiB)
    nonce.writeUIntBE(counter, 5, 6);
    nonce[11] = last && i === chunks - 1 ? 1 : 0;
    const c = cc('chacha20-poly1305', key, nonce, { authTagLength: 16 });
    at += c.update(plain.subarray(i * chunkBytes, (i + 1) * chunkBytes)).copy(out, at);
    c.final();
    at += c.getAuthTag().copy(out, at);
  }
  return at;
}

/** The worker: seals the odd batches, hashes header and ciphertext in order, posts the digest. */
export function workerMain(
  shared: SealShared,
  port: MessagePort,
  cc: typeof CreateCipheriv,
  ch: typeof CreateHash,
  seal: typeof sealBatch,
  scavenge: () => void,
): void {
  const { f, slots, plainSlot, cipherSlot } = shared.layout;
  const ctl = new Int32Array(shared.ctl);
  const hash = ch('sha256');
  let bytes = 0;
  for (const h of shared.head) {
    hash.update(h);
    bytes += h.length;
  }
  const bump = () => {
    Atomics.add(ctl, f.SEQ, 1);
    Atomics.notify(ctl, f.SEQ);
  };
  let nextSeal = 1;
  let nextHash = 0;
  for (;;) {
    const seen = Atomics.load(ctl, f.SEQ);
    if (Atomics.load(ctl, f.STOP)) return;
    let moved = false;
    const filled = Atomics.load(ctl, f.FILLED);
    if (nextSeal < filled) {
      const s = nextSeal % slots;
      const len = Atomics.load(ctl, f.LEN + s);
      const plain = Buffer.from(shared.plain, s * plainSlot, len);
      const out = Buffer.from(shared.cipher, s * cipherSlot, cipherSlot);
      seal(cc, shared.key, nextSeal, plain, Atomics.load(ctl, f.LAST + s) === 1, out);
      Atomics.store(ctl, f.SEALED + s, nextSeal + 1);
      bump();
      if ((nextSeal - 1) % (2 * shared.layout.scavengeEvery) === 0) scavenge();
      nextSeal += 2;
      moved = true;
    }
    // hash every batch sealed so far, in order, before sealing the next odd one
    while (nextHash < filled) {
      const s = nextHash % slots;
      if (Atomics.load(ctl, f.SEALED + s) !== nextHash + 1) break;
      const len = Atomics.load(ctl, f.LEN + s);
      const n = len + 16 * Math.max(1, Math.ceil(len / (64 * 1024)));
      hash.update(Buffer.from(shared.cipher, s * cipherSlot, n));
      bytes += n;
      nextHash++;
      Atomics.store(ctl, f.HASHED, nextHash);
      bump();
      moved = true;
    }
    const total = Atomics.load(ctl, f.TOTAL);
    if (total >= 0 && nextHash === total) {
      port.postMessage({ bytes, sha256: hash.digest('hex') });
      return;
    }
    if (!moved) Atomics.wait(ctl, f.SEQ, seen);
  }
}

/**
 * Each thread seals its batches with `node:crypto`, which returns every chunk's ciphertext in a
 * new 64 KiB buffer. V8 collects those only when 64 MB more of such memory piled up, in each of the
 * two threads: peak RSS went from 125 to 157 MB on 512 MiB (bench/FINDINGS.md). A minor GC (the
 * young generation: a tiny live set, well under a millisecond) every SCAVENGE_EVERY batches a
 * thread sealed keeps that to a few MiB per thread.
 */
export const SCAVENGE_EVERY = 4;

/**
 * A function that runs a minor GC. `gc` is exposed to new contexts by the V8 flag, set once for the
 * process (as jest's leak detector does); nothing else changes.
 */
export function scavenger(): () => void {
  const gc = exposedGc();
  return () => gc({ type: 'minor' });
}

/**
 * A full GC, once a file is sealed: the rings (SharedArrayBuffers that outlived many minor GCs)
 * and the worker's memory go back before the upload that follows allocates its own buffers.
 */
export function releaseRings(): void {
  exposedGc()({ type: 'major' });
}

/**
 * With glibc, the chunks freed by those minor GCs went back to the kernel (the heap trimmed above
 * 128 KiB free) and every new 64 KiB buffer was faulted in again: ~520k page faults and ~1 CPU-s
 * of kernel time per 2 GiB. Freeing one 4 MiB block (malloc'd with mmap) raises glibc's dynamic
 * mmap threshold to 4 MiB and its trim threshold to 8 MiB for the process, so the freed chunks
 * are reused instead (14k faults, bench/FINDINGS.md). Once per process: the block is freed by the
 * first minor GC; the rings, also freed mmap blocks of that size, do the same after every file.
 */
export function keepFreedChunks(): void {
  if (raised) return;
  raised = true;
  Buffer.allocUnsafeSlow(4 << 20);
}
let raised = false;

let gcFn: ((o: { type: 'minor' | 'major' }) => void) | undefined;
function exposedGc(): (o: { type: 'minor' | 'major' }) => void {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as (o: { type: 'minor' | 'major' }) => void;
  }
  return gcFn;
}

/**
 * Source text of the worker (run with `eval: true`). Builtins come through
 * `process.getBuiltinModule` (Node ≥ 20.16): the text runs alike as CommonJS or as an ES module
 * (a `--input-type=module` in the parent's options would make it one).
 */
export function workerSource(): string {
  // `__name`: what a bundler's keep-names transform (tsx) may call inside the functions' text
  return [
    'const __name = (f) => f;',
    "const { workerData, parentPort } = process.getBuiltinModule('node:worker_threads');",
    "const { createCipheriv, createHash } = process.getBuiltinModule('node:crypto');",
    `const sealBatch = ${sealBatch.toString()};`,
    // the flag was set before the worker started: its context has `gc` already
    "const collect = globalThis.gc ?? process.getBuiltinModule('node:vm').runInNewContext('gc');",
    "const scavenge = () => collect({ type: 'minor' });",
    `(${workerMain.toString()})(workerData, parentPort, createCipheriv, createHash, sealBatch, scavenge);`,
  ].join('\n');
}
