/**
 * A ring of slots in shared memory: the receiving thread reads network bytes straight into a
 * slot and commits it; one worker thread writes every committed slot to the file, in order, and
 * another computes their sha256, in order. Writing and hashing leave the receiving thread without
 * a copy or a message per chunk: the threads meet through Atomics on a small control block. Three
 * threads rather than two (receive + write, hash) because on a busy machine each thread gets its
 * share of a core: the receiving thread alone keeps pace with the network (measured in
 * bench/FINDINGS.md, issue 14). Small transfers write and hash inline (`worker: false`): a worker
 * costs ~30 ms to start.
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

/** Slots in the ring and bytes per slot: 16 MiB of shared memory per transfer. */
export const RING_SLOTS = 16;
export const SLOT_BYTES = 1 << 20;

// control words (Int32): committed slots, hashed slots, end flag, change counter, written slots,
// the file descriptor the writer writes to, a progress counter both consumers bump; then per slot
// the offset and the length of its committed bytes
const HEAD = 0;
const TAIL = 1;
const END = 2;
const SEQ = 3;
const WTAIL = 4;
const FD = 5;
const PROG = 6;
const META = 8;

/**
 * The workers, as plain CommonJS text run with `eval` (no file to locate under tsx or dist/): each
 * consumes slots from its tail to HEAD — the hasher hashes them, the writer writes them to the file
 * in order — publishes its tail after each, sleeps on SEQ when caught up, and posts its result
 * once END is set and every committed slot is consumed. END = 2 stops it.
 */
const consumer = (tail: number, setup: string, use: string, done: string) => `
const { workerData, parentPort } = require('node:worker_threads');
const { ctrl, data, slots, slotBytes } = workerData;
const c = new Int32Array(ctrl);
const mem = Buffer.from(data);
${setup}
let tail = 0;
try {
  for (;;) {
    const seq = Atomics.load(c, ${SEQ});
    const end = Atomics.load(c, ${END});
    if (end === 2) break;
    const head = Atomics.load(c, ${HEAD});
    while (tail < head) {
      const i = tail % slots;
      const at = i * slotBytes + c[${META} + i];
      const len = c[${META} + slots + i];
      ${use}
      tail++;
      Atomics.store(c, ${tail}, tail);
      Atomics.add(c, ${PROG}, 1);
      Atomics.notify(c, ${PROG});
    }
    if (end === 1) {
      parentPort.postMessage({ ok: ${done} });
      break;
    }
    Atomics.wait(c, ${SEQ}, seq);
  }
} catch (e) {
  parentPort.postMessage({ error: { message: e.message, code: e.code, syscall: e.syscall, errno: e.errno } });
}
`;
const HASHER = consumer(
  TAIL,
  "const hash = require('node:crypto').createHash('sha256');",
  'hash.update(mem.subarray(at, at + len));',
  "hash.digest('hex')",
);
const WRITER = consumer(
  WTAIL,
  "const { writeSync } = require('node:fs');",
  `const fd = c[${FD}];
      for (let n = 0; n < len; ) n += writeSync(fd, mem, at + n, len - n);`,
  'true',
);

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
   * The file committed bytes are written to, in order (set once, before the first commit that
   * carries bytes). Without it the ring only hashes.
   */
  setFile(fd: number): void;
  /**
   * Hands `length` bytes of the current slot, from `offset`, to the hash (and the file) and moves
   * to the next slot. Returns false when that slot is still in use: read nothing until `free()`.
   */
  commit(offset: number, length: number): boolean;
  /** Resolves once the current slot can be read into. */
  free(): Promise<void>;
  /**
   * Waits until every committed byte is hashed and written; the sha256 (hex). The ring is closed
   * after.
   */
  digest(): Promise<string>;
  /** Stops the workers; safe to call more than once, and after digest(). */
  close(): Promise<void>;
}

/**
 * A ring whose hash and writes run on two worker threads (`worker: true`), or inline on commit:
 * the receiving thread then only receives.
 */
export function createByteRing(opts: { worker: boolean; write?: boolean }): ByteRing {
  return opts.worker ? workerRing(opts.write ?? false) : inlineRing();
}

/** One slot, written and hashed as it is committed: for transfers too small to pay for workers. */
function inlineRing(): ByteRing {
  const mem = Buffer.allocUnsafe(SLOT_BYTES);
  const hash = createHash('sha256');
  let fd: number | undefined;
  return {
    slot: () => mem,
    setFile(file) {
      fd = file;
    },
    commit(offset, length) {
      if (fd !== undefined) for (let n = 0; n < length; ) n += writeSync(fd, mem, offset + n, length - n);
      hash.update(mem.subarray(offset, offset + length));
      return true;
    },
    free: async () => {},
    digest: async () => hash.digest('hex'),
    close: async () => {},
  };
}

interface Consumer {
  /** Resolves with what the worker posts at the end (the digest, or true). */
  result: Promise<unknown>;
  failure(): Error | undefined;
  stopped(): boolean;
  terminate(): Promise<number>;
}

function startConsumer(source: string, workerData: object): Consumer {
  const worker = new Worker(source, {
    eval: true,
    workerData,
    // its own small heap: the bytes it handles live in the shared ring
    resourceLimits: { maxOldGenerationSizeMb: 16, maxYoungGenerationSizeMb: 4 },
  });
  let failure: Error | undefined;
  let exited = false;
  const result = new Promise<unknown>((resolve, reject) => {
    worker.once('message', (m: { ok?: unknown; error?: { message: string } }) => {
      if (m.error) {
        failure = Object.assign(new Error(m.error.message), m.error);
        reject(failure);
      } else resolve(m.ok);
    });
    worker.once('error', (err) => {
      failure = err;
      reject(err);
    });
    worker.once('exit', (code) => {
      exited = true;
      reject(failure ?? new Error(`a ring thread stopped (exit code ${code})`));
    });
  });
  result.catch(() => {}); // read by digest(); a failure also surfaces through free()/commit()
  return {
    result,
    failure: () => failure,
    stopped: () => exited,
    terminate: () => worker.terminate(),
  };
}

function workerRing(write: boolean): ByteRing {
  const ctrl = new SharedArrayBuffer(4 * (META + 2 * RING_SLOTS));
  const data = new SharedArrayBuffer(RING_SLOTS * SLOT_BYTES);
  const c = new Int32Array(ctrl);
  const mem = Buffer.from(data);
  const slots = Array.from({ length: RING_SLOTS }, (_, i) =>
    mem.subarray(i * SLOT_BYTES, (i + 1) * SLOT_BYTES),
  );
  const shared = { ctrl, data, slots: RING_SLOTS, slotBytes: SLOT_BYTES };
  const hasher = startConsumer(HASHER, shared);
  // started with the ring: a worker takes ~30 ms to start, the answer's head may come sooner
  const writer = write ? startConsumer(WRITER, shared) : undefined;
  const consumers = () => (writer ? [hasher, writer] : [hasher]);
  const failure = () =>
    consumers()
      .find((w) => w.failure())
      ?.failure();
  let head = 0;
  const signal = () => {
    Atomics.add(c, SEQ, 1);
    Atomics.notify(c, SEQ);
  };
  const tail = () => Math.min(Atomics.load(c, TAIL), writer ? Atomics.load(c, WTAIL) : head);
  const busy = () => head - tail() >= RING_SLOTS;
  let closed = false;
  const stop = async () => {
    if (closed) return;
    closed = true;
    Atomics.store(c, END, 2);
    signal();
    await Promise.all(consumers().map((w) => w.terminate()));
  };
  return {
    slot: () => slots[head % RING_SLOTS] as Buffer,
    setFile(fd) {
      if (!writer) throw new Error('this ring was made without a writer');
      Atomics.store(c, FD, fd);
    },
    commit(offset, length) {
      const err = failure();
      if (err) throw err;
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
        const err = failure();
        if (err || consumers().some((w) => w.stopped())) throw err ?? new Error('a ring thread stopped');
        const seen = Atomics.load(c, PROG);
        const wait = waitAsync(c, PROG, seen, 1000);
        if (wait.async) await wait.value;
      }
    },
    async digest() {
      Atomics.store(c, END, 1);
      signal();
      try {
        const [hex] = await Promise.all(consumers().map((w) => w.result));
        return hex as string;
      } finally {
        await stop();
      }
    },
    close: stop,
  };
}
