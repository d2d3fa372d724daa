/**
 * qnb's own snapshot download path, run as a separate process like curl:
 *
 *   node --import tsx bench/qnb-download.ts URL COLLECTION SNAPSHOT OUT_FILE [VARIANT]
 *
 * VARIANT `exact` (default) is the code `qnb backup-qdrant` runs: createQdrantApi().downloadSnapshot
 * (undici, Accept-Encoding: identity) + streamToFile (sha256 inline, fsync). Other variants are
 * bench-local experiments from `lib/download-variants.ts`.
 * Prints one JSON line: {"ms","tailMs","bytes","sha256","cpuMs","maxRssKb"} — ms from the request
 * to the file being complete (for `exact`: fsynced and closed); tailMs from the last byte received
 * to that point (the final hash/write/fsync the receiving could not hide).
 */

import { streamToFile } from '../src/core/transfer.js';
import { createQdrantApi } from '../src/targets/qdrant/qdrant-api.js';
import { DOWNLOAD_VARIANTS } from './lib/download-variants.js';
import { startMemTrace } from './lib/memtrace.js';

const [url, collection, snapshot, out, variant = 'exact'] = process.argv.slice(2);
if (!url || !collection || !snapshot || !out) {
  console.error('usage: qnb-download.ts URL COLLECTION SNAPSHOT OUT_FILE [VARIANT]');
  process.exit(2);
}

const stopTrace = startMemTrace();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let result: { bytes: number; sha256: string; bodyEndMs?: number };
if (variant === 'exact') {
  const api = createQdrantApi({ url });
  try {
    const dl = await api.downloadSnapshot(collection, snapshot);
    let bodyEndMs: number | undefined;
    dl.body.once('end', () => {
      bodyEndMs = performance.now() - t0;
    });
    // qnb passes a progress callback that emits an event; a no-op stands in for it here
    result = await streamToFile(dl.body, out, { encoding: dl.contentEncoding, onProgress: () => {} });
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
    ...(trace ? { trace } : {}),
  }),
);
