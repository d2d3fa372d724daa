/**
 * An encrypted copy's restore download (or read-back), decrypted as it arrives: a RingFile
 * (ring-file.ts) that a ring transfer (S3's ranged GETs over raw sockets, s3-fast-get.ts; a
 * folder's file reads, dir-backend.ts) feeds with the age file's bytes, and that writes the
 * plaintext into the new file instead of the ciphertext (or, without a path, only hashes it).
 * Before the transfer, `getDecrypted` read the header once (age.ts `openHeader`: one of the
 * identities opened it) and hands its bytes and the payload key here. The header's bytes in the
 * transfer must be those; every 64 KiB chunk of the payload is opened as soon as its bytes are in, its tag checked
 * before its plaintext is written, and the chunk that ends at the object's recorded size is the
 * last one (the age STREAM rules of age-stream.ts). The ciphertext is hashed on its ring's worker
 * (checked by the caller against the copy's manifest), the plaintext on a second ring's worker;
 * the receiving thread reads the sockets and opens the chunks.
 * Why (bench/FINDINGS.md): decrypting a single-stream SDK download on one thread made an encrypted
 * restore take 5 to 6 times as long as a plain one, and almost twice as long as `rclone cat | age -d`.
 *
 * Memory: two rings of 16 MiB (the ciphertext's, hashed on its worker; the plaintext's, a
 * ring-file.ts ring file: hashed on another while libuv's pool writes it from there, flushed in
 * the background, fsynced at the end), one pending chunk and one batch.
 */
import type { CopyBackend } from '../storage/backend.js';
import { openHeader } from './age.js';
import { keepFreedChunks, scavenger } from './age-seal-worker.js';
import { openChunk, SEALED_CHUNK } from './age-stream.js';
import { createByteRing, SLOT_BYTES } from './byte-ring.js';
import { QnbError } from './errors.js';
import { createRingFile, type RingFile, type RingFileOptions, WORKER_MIN_BYTES } from './ring-file.js';
import type { StreamResult } from './transfer.js';

export interface RingDecryptOptions extends RingFileOptions {
  /** The payload key (age.ts `openHeader`). */
  key: Buffer;
  /** The header and payload nonce as read before: the transfer's first bytes must be these. */
  head: Buffer;
  /** The encrypted object's size as its manifest records it. */
  total: number;
  /** The copy, for messages. */
  what: string;
}

export interface RingDecrypt extends RingFile {
  /** Size and sha256 of the plaintext written; after `finish()`. */
  plain(): StreamResult;
}

/** The plaintext is gathered into batches of a slot of the plaintext's ring. */
const BATCH_BYTES = SLOT_BYTES;
/** Chunks opened between two minor GCs (each chunk's plaintext is a new 64 KiB buffer). */
const SCAVENGE_CHUNKS = 16;

export function createRingDecrypt(path: string | undefined, o: RingDecryptOptions): RingDecrypt {
  const ring = createByteRing({ worker: o.total >= WORKER_MIN_BYTES });
  const scavenge = scavenger();
  keepFreedChunks();
  const pending = Buffer.allocUnsafe(SEALED_CHUNK);
  const damaged = (why: string) =>
    new QnbError('E_CHECKSUM', `${o.what}: the encrypted copy is damaged (${why})`, {
      hint: 'restore an older copy: `qnb list --remote TARGET`',
    });
  // at least the header and one chunk's tag, or the chunk arithmetic below has nothing to stand on
  if (o.total < o.head.length + 16)
    throw damaged(`its manifest records ${o.total} bytes, less than its header`);
  /**
   * The plaintext side is an ordinary ring file (ring-file.ts: hashed on its ring's worker, written
   * from its slots by libuv's pool, flushed, fsynced; nothing written without a path). The chunks'
   * plaintext is gathered into `batch`, then copied into its slot: one write() of the transfer (at
   * most one 1 MiB slot of ciphertext) fills at most one batch, so the slot it goes to is always
   * free (write() pauses the transfer until the next one is, see `outFree`).
   */
  const out = createRingFile(path, {
    expectedBytes: o.total,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onError: o.onError,
  });
  let outFree = true;
  const batch = Buffer.allocUnsafeSlow(BATCH_BYTES);
  let batchFill = 0;
  let fill = 0;
  let received = 0;
  let counter = 0;
  let ended = false;
  let plain: StreamResult | undefined;
  const flush = () => {
    if (batchFill === 0) return;
    const slot = out.slot();
    batch.copy(slot, 0, 0, batchFill);
    outFree = out.write(slot, 0, batchFill);
    batchFill = 0;
  };
  /** Gathers a chunk's plaintext into the batch. */
  const emit = (bytes: Buffer) => {
    for (let off = 0; off < bytes.length; ) {
      const k = Math.min(bytes.length - off, BATCH_BYTES - batchFill);
      bytes.copy(batch, batchFill, off, off + k);
      batchFill += k;
      off += k;
      if (batchFill === BATCH_BYTES) flush();
    }
  };
  /** Opens chunk `counter` (its tag checked first); the last is the one ending at `total`. */
  const openOne = (sealed: Buffer, last: boolean) => {
    let bytes: Buffer;
    try {
      bytes = openChunk(o.key, counter, sealed, last);
    } catch (err) {
      throw damaged((err as Error).message);
    }
    if (last && counter > 0 && bytes.length === 0)
      throw damaged('the payload ends with an empty chunk after data');
    emit(bytes);
    counter++;
    if (last) ended = true;
    if (counter % SCAVENGE_CHUNKS === 0) scavenge();
  };
  /** Takes `n` bytes of `buf` from `at`: the header's are compared, the payload's opened. */
  const take = (buf: Buffer, at: number, n: number) => {
    const end = at + n;
    while (at < end && received < o.head.length) {
      const k = Math.min(end - at, o.head.length - received);
      if (!buf.subarray(at, at + k).equals(o.head.subarray(received, received + k)))
        throw new QnbError('E_SERVER', `${o.what}: the object changed after qnb read its header`, {
          hint: 'run the command again',
          retryable: true,
        });
      at += k;
      received += k;
    }
    while (at < end) {
      if (ended) throw damaged(`longer than the ${o.total} bytes its manifest records`);
      const start = o.head.length + counter * SEALED_CHUNK;
      const len = Math.min(SEALED_CHUNK, o.total - start);
      const k = Math.min(len - fill, end - at);
      const last = start + len === o.total;
      if (fill === 0 && k === len) openOne(buf.subarray(at, at + k), last);
      else {
        buf.copy(pending, fill, at, at + k);
        fill += k;
        if (fill === len) {
          fill = 0;
          openOne(pending.subarray(0, len), last);
        }
      }
      at += k;
      received += k;
    }
  };
  return {
    slot: () => ring.slot(),
    parking: out.parking,
    open: () => out.open(),
    opened: () => out.opened(),
    write(buf, from, n) {
      if (n === 0) return true;
      take(buf, from, n);
      return ring.commit(from, n) && outFree;
    },
    async free() {
      await ring.free();
      if (!outFree) await out.free();
      outFree = true;
    },
    bytes: () => received,
    async finish() {
      if (!ended)
        throw damaged(
          `it ends after ${received} of the ${o.total} bytes its manifest records, inside the payload`,
        );
      flush();
      plain = await out.finish();
      return { bytes: received, sha256: await ring.digest() };
    },
    plain() {
      if (!plain) throw new Error('plain() before finish()');
      return plain;
    },
    async close() {
      await ring.close();
      await out.close();
    },
  };
}

/**
 * An encrypted copy through the backend's own way (`getToFile`: S3 over plain http, a folder),
 * decrypted as it arrives into a new file at `path` (or, without one, only hashed): the header is
 * read and opened first, so a wrong identity is refused before the payload moves. Both sides' size
 * and sha256; `undefined`, with nothing created, when the backend has no such way for it (the
 * caller decrypts the backend's stream instead).
 */
export async function getDecrypted(
  backend: CopyBackend,
  stored: { key: string; bytes: number },
  path: string | undefined,
  identities: readonly string[],
  what: string,
  opts: { signal?: AbortSignal; onProgress?: (plainBytes: number) => void } = {},
): Promise<{ cipher: StreamResult; plain: StreamResult } | undefined> {
  if (!backend.getToFile) return undefined;
  const call = opts.signal ? { signal: opts.signal } : {};
  const { key, head } = await openHeader(await backend.get(stored.key, call), identities, what);
  let sink: RingDecrypt | undefined;
  const cipher = await backend.getToFile(stored.key, path ?? '', {
    ...opts,
    expectedBytes: stored.bytes,
    sink: (_path, o) => {
      sink = createRingDecrypt(path, { ...o, key, head, total: stored.bytes, what });
      return sink;
    },
  });
  return cipher && sink ? { cipher, plain: sink.plain() } : undefined;
}
