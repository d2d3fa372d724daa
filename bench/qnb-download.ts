/**
 * qnb's own snapshot download path, run as a separate process like curl:
 *
 *   node --import tsx bench/qnb-download.ts URL COLLECTION SNAPSHOT OUT_FILE [VARIANT]
 *
 * VARIANT `exact` (default) is the code `qnb backup-qdrant` runs: createQdrantApi().downloadSnapshotToFile
 * (socket read into a shared ring, sha256 on a worker, background fdatasync, fsync); `streamed` is
 * its node:http fallback (downloadSnapshot + streamToFile). Other variants are bench-local
 * experiments from `lib/download-variants.ts`.
 * Prints one JSON line: {"ms","tailMs","bytes","sha256","cpuMs","maxRssKb"} — ms from the request
 * to the file being complete (for `exact`: fsynced and closed); tailMs from the last byte received
 * to that point (the final hash/write/fsync the receiving could not hide).
 */

import { streamToFile } from '../src/core/transfer.js';
import { createQdrantApi } from '../src/targets/qdrant/qdrant-api.js';
import { DOWNLOAD_VARIANTS } from './lib/download-variants.js';
import { startMemTrace } from './lib/memtrace.js';
// @ts-expect-error: plain JavaScript module without types (shared with s3-steps.mjs)
import { threadSampler } from './lib/thread-cpu.mjs';

const [url, collection, snapshot, out, variant = 'exact'] = process.argv.slice(2);
if (!url || !collection || !snapshot || !out) {
  console.error('usage: qnb-download.ts URL COLLECTION SNAPSHOT OUT_FILE [VARIANT]');
  process.exit(2);
}

const stopTrace = startMemTrace();
// per-thread CPU: the receiving (main) thread, the ring's hashing worker, the rest (libuv's pool: writes)
const threads = threadSampler();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let result: { bytes: number; sha256: string; bodyEndMs?: number };
if (variant === 'exact' || variant === 'streamed') {
  const api = createQdrantApi({ url });
  try {
    // exact: what `qnb backup-qdrant` runs (qdrant-download.ts): the ring path
    // (core/http-get-file.ts), falling back to node:http + streamToFile for other answers;
    // streamed: that fallback alone (the path of every download before the ring)
    let bodyEndMs: number | undefined;
    const fast =
      variant === 'exact'
        ? await api.downloadSnapshotToFile(collection, snapshot, out, {
            expectedBytes: Number(process.env.QNB_BENCH_SIZE ?? 1 << 30),
            onProgress: () => {},
          })
        : undefined;
    if (fast) result = fast;
    else {
      const dl = await api.downloadSnapshot(collection, snapshot);
      dl.body.once('end', () => {
        bodyEndMs = performance.now() - t0;
      });
      // qnb passes a progress callback that emits an event; a no-op stands in for it here
      result = await streamToFile(dl.body, out, { encoding: dl.contentEncoding, onProgress: () => {} });
    }
    if (bodyEndMs !== undefined) result.bodyEndMs = bodyEndMs;
  } finally {
    await api.close();
  }
} else {
  const fn = DOWNLOAD_VARIANTS[variant];
  if (!fn) {
    console.error(`unknown variant ${variant}; known: exact, ${Object.keys(DOWNLOAD_VARIANTS).join(', ')}`);
    process.exit(2);
  }
  result = await fn(url, collection, snapshot, out);
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const trace = stopTrace();
const perThread = threads.stop(1);
const cpuS = (x: readonly number[] | undefined) => (x ? (x[0] ?? 0) + (x[1] ?? 0) : 0);
console.log(
  JSON.stringify({
    variant,
    ms,
    // from the last byte received to the file complete (hash done, fsynced, closed)
    ...(result.bodyEndMs === undefined ? {} : { tailMs: ms - result.bodyEndMs }),
    bytes: result.bytes,
    sha256: result.sha256,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    threadsS: {
      main: cpuS(perThread.main),
      busiest: perThread.busiest.map(cpuS),
      rest: cpuS(perThread.rest),
    },
    ...(trace ? { trace } : {}),
  }),
);
