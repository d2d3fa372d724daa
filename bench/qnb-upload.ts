/**
 * qnb's own snapshot upload path, run as a separate process like curl:
 *
 *   node --import tsx bench/qnb-upload.ts URL COLLECTION FILE SHA256 [VARIANT]
 *
 * VARIANT `exact` (default) is what `qnb restore-qdrant` does (qdrant-restore.ts):
 * createReadStream(FILE, 1 MiB chunks).pipe(byteCounter()) into createQdrantApi().uploadSnapshot
 * (multipart, priority=snapshot, wait=true, checksum), then deleteSnapshot of the uploaded copy.
 * The bytes are not hashed on the way out: the server checks `checksum=` (a mismatch fails the
 * upload), and restore has hashed the file against the manifest just before.
 * Other variants are bench-local experiments from `lib/upload-variants.ts`.
 * Prints one JSON line: {"ms","bytes","sha256","cpuMs","maxRssKb","rssBeforeKb"}; ms covers the
 * upload call only (request start to the server's answer), not the delete that follows.
 *
 * QNB_BENCH_VERIFY=exact|reuse first re-hashes the file like restore-qdrant does before uploading
 * (`exact`: qnb's hashFile; `reuse`: a bench-local copy that reads into one reused 1 MiB buffer),
 * so the peak RSS covers the same sequence as a restore. rssBeforeKb is then taken before it.
 */

import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { byteCounter, hashFile } from '../src/core/transfer.js';
import { createQdrantApi } from '../src/targets/qdrant/qdrant-api.js';
import { hashFileReusingBuffer } from './lib/hash-variants.js';
import { startMemTrace } from './lib/memtrace.js';
import { UPLOAD_VARIANTS } from './lib/upload-variants.js';

const [url, collection, file, sha256, variant = 'exact'] = process.argv.slice(2);
if (!url || !collection || !file || !sha256) {
  console.error('usage: qnb-upload.ts URL COLLECTION FILE SHA256 [VARIANT]');
  process.exit(2);
}
const size = (await stat(file)).size;
const uploadName = `qnb-restore-${randomBytes(6).toString('hex')}.snapshot`;
const api = createQdrantApi({ url });
const verify = process.env.QNB_BENCH_VERIFY ?? 'none';
let rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
if (verify !== 'none') {
  const local = verify === 'reuse' ? await hashFileReusingBuffer(file) : await hashFile(file);
  if (local.sha256 !== sha256) throw new Error(`${file}: sha256 ${local.sha256} ≠ ${sha256}`);
}
await api.version(); // a control call first, as restore makes before uploading
if (verify === 'none') rssBeforeKb = Math.round(process.memoryUsage().rss / 1024);
const stopTrace = startMemTrace();
const cpu0 = process.cpuUsage();
const t0 = performance.now();
let sent: { bytes: number; sha256: string };
try {
  if (variant === 'exact') {
    const counter = byteCounter(() => {});
    const stream = createReadStream(file, { highWaterMark: 1 << 20 }).pipe(counter);
    await api.uploadSnapshot(collection, { fileName: uploadName, size, stream, sha256 });
    // the server accepted checksum=sha256 for these bytes
    sent = { bytes: counter.bytes(), sha256 };
  } else {
    const fn = UPLOAD_VARIANTS[variant];
    if (!fn) {
      console.error(`unknown variant ${variant}; known: exact, ${Object.keys(UPLOAD_VARIANTS).join(', ')}`);
      process.exit(2);
    }
    sent = await fn(url, collection, file, size, uploadName, sha256);
  }
} finally {
  await api.deleteSnapshot(collection, uploadName).catch(() => {});
}
const ms = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const trace = stopTrace();
await api.close();
if (sent.sha256 !== sha256) {
  console.error(`sha256 of the sent bytes ${sent.sha256} differs from ${sha256}`);
  process.exit(1);
}
console.log(
  JSON.stringify({
    variant,
    ms,
    bytes: sent.bytes,
    sha256: sent.sha256,
    cpuMs: (cpu.user + cpu.system) / 1000,
    maxRssKb: process.resourceUsage().maxRSS,
    ...(trace ? { trace } : {}),
    rssBeforeKb,
  }),
);
