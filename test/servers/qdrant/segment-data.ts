/**
 * Bulk data of a collection for big snapshots (`setSnapshotPadding`), and the checksum pass of
 * snapshot creation — modelled on what Qdrant does when it creates a snapshot:
 *
 * - The data already lies on disk before any snapshot (Qdrant's segment files): the padding
 *   bytes are generated ONCE, when the padding is set (like filling the collection), into a file
 *   under `<dataDir>/segments/`; every snapshot copies that file into its tar (`padding.bin`),
 *   as Qdrant archives a segment's files into the snapshot (lib/collection/src/shards/
 *   local_shard/snapshot.rs: snapshot_all_segments → take_snapshot into the tar builder).
 * - The checksum is computed in a second pass over the finished archive, before the snapshot is
 *   made visible (snapshots_manager.rs store_file → common/sha_256.rs hash_file: 1 MiB reads
 *   + sha256), on another thread than the one serving requests: Qdrant runs it on its async
 *   runtime's worker threads (archiving on blocking threads) while actix workers keep serving
 *   downloads. Here that thread is one worker_thread per server (`createHasher`), started on
 *   first use.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

/** A collection's bulk data: its size and the file holding it (written once). */
export interface SegmentData {
  bytes: number;
  /** Resolves to the file's path once it is fully written. */
  file: Promise<string>;
}

/** Writes `bytes` pseudo-random bytes to a new file under `dir`, 1 MiB at a time. */
export function writeSegmentData(dir: string, collection: string, bytes: number): SegmentData {
  const path = join(dir, `${encodeURIComponent(collection)}-${randomUUID()}.bin`);
  const file = (async () => {
    await mkdir(dir, { recursive: true });
    const fh = await open(path, 'w', 0o644);
    try {
      for (let left = bytes; left > 0; ) {
        const n = Math.min(left, 1024 * 1024);
        await fh.write(randomBytes(n));
        left -= n;
      }
    } catch (e) {
      await fh.close().catch(() => {});
      await rm(path, { force: true });
      throw e;
    }
    await fh.close();
    return path;
  })();
  file.catch(() => {}); // a snapshot that needs it gets the error
  return { bytes, file };
}

/** Deletes the file of replaced or dropped bulk data (once written). */
export function dropSegmentData(data: SegmentData | undefined): void {
  data?.file.then((p) => rm(p, { force: true })).catch(() => {});
}

// Plain CommonJS (eval worker): reads a file in 1 MiB chunks and returns its sha256 hex.
const HASHER = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { createReadStream } = require('node:fs');
parentPort.on('message', ({ id, path }) => {
  const hash = createHash('sha256');
  createReadStream(path, { highWaterMark: 1024 * 1024 })
    .on('data', (chunk) => hash.update(chunk))
    .on('end', () => parentPort.postMessage({ id, sha256: hash.digest('hex') }))
    .on('error', (e) => parentPort.postMessage({ id, error: String(e && e.message) }));
});
`;

/** sha256 of files, computed on a worker thread; `close` stops it. */
export interface Hasher {
  hashFile(path: string): Promise<string>;
  close(): Promise<void>;
}

export function createHasher(): Hasher {
  let worker: Worker | undefined;
  let next = 0;
  const waiting = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  const fail = (e: Error) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
    worker = undefined;
  };
  const start = () => {
    const w = new Worker(HASHER, { eval: true });
    w.unref();
    w.on('message', (m: { id: number; sha256?: string; error?: string }) => {
      const p = waiting.get(m.id);
      waiting.delete(m.id);
      if (m.sha256) p?.resolve(m.sha256);
      else p?.reject(new Error(`hashing failed: ${m.error}`));
      if (waiting.size === 0) w.unref();
    });
    w.on('error', fail);
    w.on('exit', () => fail(new Error('hashing thread exited')));
    return w;
  };
  return {
    hashFile(path) {
      worker ??= start();
      worker.ref(); // keep the process alive while a hash is pending
      const id = next++;
      const done = new Promise<string>((resolve, reject) => waiting.set(id, { resolve, reject }));
      worker.postMessage({ id, path });
      return done;
    },
    async close() {
      const w = worker;
      worker = undefined;
      if (w) await w.terminate();
    },
  };
}
