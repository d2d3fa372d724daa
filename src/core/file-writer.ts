/**
 * The end of streamToFile: a Writable into an open file that writes each batch with one writev
 * (libuv pool), starts an fdatasync in the background every `syncEvery` bytes written — so the
 * final fsync has little left to flush — and fsyncs before it finishes. bench/FINDINGS.md has the
 * measurements (and the worker-thread design that was measured and not adopted).
 */
import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Background fdatasync every this many bytes written. */
export const SYNC_EVERY = 32 << 20;

/** Writes every byte of `chunks` (a short writev is continued, never left short). */
async function writeAll(fh: FileHandle, chunks: Buffer[]): Promise<number> {
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let done = (await fh.writev(chunks)).bytesWritten;
  if (done < total) {
    const whole = Buffer.concat(chunks);
    while (done < total) done += (await fh.write(whole, done, total - done)).bytesWritten;
  }
  return done;
}

/** A Writable into `fh` (not closed here); `settled()` resolves once no fs call of it is running. */
export function durableFileWriter(
  fh: FileHandle,
  syncEvery = SYNC_EVERY,
): Writable & { settled(): Promise<void> } {
  let unsynced = 0;
  let syncing: Promise<void> | undefined;
  let writing: Promise<unknown> | undefined;
  let syncError: Error | undefined;
  const backgroundSync = () => {
    unsynced = 0;
    syncing = fh.datasync().then(
      () => {
        syncing = undefined;
      },
      (err: Error) => {
        syncError ??= err;
        syncing = undefined;
      },
    );
  };
  const w = new Writable({
    highWaterMark: 1 << 20,
    writev(chunks, cb) {
      if (syncError) return cb(syncError);
      writing = writeAll(
        fh,
        chunks.map((c) => c.chunk as Buffer),
      ).then(
        (n) => {
          unsynced += n;
          if (syncEvery > 0 && unsynced >= syncEvery && !syncing) backgroundSync();
          cb(syncError ?? null);
        },
        (err: Error) => cb(err),
      );
    },
    final(cb) {
      (async () => {
        await syncing;
        if (syncError) throw syncError;
        await fh.sync();
      })().then(() => cb(), cb);
    },
  });
  return Object.assign(w, {
    settled: async () => {
      await writing?.catch(() => {});
      await syncing;
    },
  });
}
