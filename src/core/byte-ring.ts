/**
 * A ring of slots in shared memory: the receiving thread reads network bytes straight into a
 * slot and commits it; a worker thread computes the sha256 of every committed slot, in order.
 * Hashing leaves the receiving thread without a copy or a message per chunk: the two threads
 * meet through Atomics on a small control block (measured in bench/FINDINGS.md, issue 14).
 * Small transfers hash inline (`worker: false`): a worker costs ~30 ms to start.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** Slots in the ring and bytes per slot: 16 MiB of shared memory per transfer. */
export const RING_SLOTS = 16;
export const SLOT_BYTES = 1 << 20;

// control words (Int32): committed slots, hashed slots, end flag, change counter; then per slot
// the offset and the length of its committed bytes
const HEAD = 0;
const TAIL = 1;
const END = 2;
const SEQ = 3;
const META = 8;

/**
 * The worker, as plain CommonJS text run with `eval` (no file to locate under tsx or dist/):
 * hashes slots from TAIL to HEAD, publishes TAIL after each, sleeps on SEQ when caught up, and
 * posts the hex digest once END is set and every committed slot is hashed. END = 2 stops it.
 */
const WORKER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { ctrl, data, slots, slotBytes } = workerData;
const c = new Int32Array(ctrl);
const mem = Buffer.from(data);
const hash = createHash('sha256');
let tail = 0;
for (;;) {
  const seq = Atomics.load(c, ${SEQ});
  const end = Atomics.load(c, ${END});
  if (end === 2) break;
  const head = Atomics.load(c, ${HEAD});
  while (tail < head) {
    const i = tail % slots;
    const at = i * slotBytes + c[${META} + i];
    hash.update(mem.subarray(at, at + c[${META} + slots + i]));
    tail++;
    Atomics.store(c, ${TAIL}, tail);
    Atomics.notify(c, ${TAIL});
  }
  if (end === 1) {
    parentPort.postMessage(hash.digest('hex'));
    break;
  }
  Atomics.wait(c, ${SEQ}, seq);
}
`;

/** Atomics.waitAsync (Node 16+; not in the TypeScript lib this project targets). */
export const waitAsync = (
  Atomics as unknown as {
    waitAsync(
      a: Int32Array,
      i: number,
      v: number,
      ms?: number,
    ): { async: false; value: string } | { async: true; value: Promise<string> };
  }
).waitAsync;

/** The receiving side of a ring. */
export interface ByteRing {
  /** The memory the next read goes into (the current slot). */
  slot(): Buffer;
  /**
   * Hands `length` bytes of the current slot, from `offset`, to the hash and moves to the next
   * slot. Returns false when that slot is still being hashed: read nothing until `free()`.
   */
  commit(offset: number, length: number): boolean;
  /** Resolves once the current slot can be read into. */
  free(): Promise<void>;
  /** Waits until every committed byte is hashed; the sha256 (hex). The ring is closed after. */
  digest(): Promise<string>;
  /** Stops the worker; safe to call more than once, and after digest(). */
  close(): Promise<void>;
}

/** A ring whose hash runs on a worker thread (`worker: true`) or inline on commit. */
export function createByteRing(opts: { worker: boolean }): ByteRing {
  return opts.worker ? workerRing() : inlineRing();
}

/** One slot, hashed as it is committed: for transfers too small to pay for a worker. */
function inlineRing(): ByteRing {
  const mem = Buffer.allocUnsafe(SLOT_BYTES);
  const hash = createHash('sha256');
  return {
    slot: () => mem,
    commit(offset, length) {
      hash.update(mem.subarray(offset, offset + length));
      return true;
    },
    free: async () => {},
    digest: async () => hash.digest('hex'),
    close: async () => {},
  };
}

function workerRing(): ByteRing {
  const ctrl = new SharedArrayBuffer(4 * (META + 2 * RING_SLOTS));
  const data = new SharedArrayBuffer(RING_SLOTS * SLOT_BYTES);
  const c = new Int32Array(ctrl);
  const mem = Buffer.from(data);
  const slots = Array.from({ length: RING_SLOTS }, (_, i) =>
    mem.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES),
  );
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ctrl, data, slots: RING_SLOTS, slotBytes: SLOT_BYTES },
    // its own small heap: the bytes it hashes live in the shared ring
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  let failure: Error | undefined;
  let exited = false;
  const result = new Promise<string>((resolve, reject) => {
    worker.once('message', (hex: string) => resolve(hex));
    worker.once('error', (err) => {
      failure = err;
      reject(err);
    });
    worker.once('exit', (code) => {
      exited = true;
      reject(failure ?? new Error(`the hashing thread stopped (exit code ${code})`));
    });
  });
  result.catch(() => {}); // read by digest(); a failure also surfaces through free()/commit()
  let head = 0;
  const signal = () => {
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
  };
  const busy = () => head - Atomics.load(c, TAIL) >= RING_SLOTS;
  const stop = async () => {
    if (exited) return;
    Atomics.store(c, END, 2);
    signal();
    await worker.terminate();
  };
  return {
    slot: () => slots[head % RING_SLOTS] as Buffer,
    commit(offset, length) {
      if (failure) throw failure;
      const i = head % RING_SLOTS;
      c[META + i] = offset;
      c[META + RING_SLOTS + i] = length;
      head++;
      Atomics.store(c, HEAD, head);
      signal();
      return !busy();
    },
    async free() {
      while (busy()) {
        if (failure || exited) throw failure ?? new Error('the hashing thread stopped');
        const seen = Atomics.load(c, TAIL);
        const wait = waitAsync(c, TAIL, seen, 1000);
        if (wait.async) await wait.value;
      }
    },
    async digest() {
      Atomics.store(c, END, 1);
      signal();
      try {
        return await result;
      } finally {
        await stop();
      }
    },
    close: stop,
  };
}
