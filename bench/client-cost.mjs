/**
 * What the official Qdrant client costs in memory, in a process that has loaded what the qnb CLI
 * loads. Plain JavaScript (run with `node`, no tsx, so tsx's own memory does not blur the number):
 *
 *   node bench/client-cost.mjs QNB_MAIN_JS URL raw|official
 *
 * `raw`: four JSON calls through qnb's own undici path (listSnapshots). `official`: the same first
 * call, then version / collectionExists / countExact — the control calls backup and restore make
 * through `@qdrant/js-client-rest` (which brings its own copy of undici 6). Prints
 * {"mode","rssKb","maxRssKb"} after the calls.
 */
import { pathToFileURL } from 'node:url';

const [mainJs, url, mode] = process.argv.slice(2);
if (!mainJs || !url || (mode !== 'raw' && mode !== 'official')) {
  console.error('usage: client-cost.mjs QNB_MAIN_JS URL raw|official');
  process.exit(2);
}
await import(pathToFileURL(mainJs).href);
const { createQdrantApi } = await import(
  new URL('../targets/qdrant/qdrant-api.js', pathToFileURL(mainJs)).href
);
const api = createQdrantApi({ url });
await api.listSnapshots('papers');
if (mode === 'raw') {
  for (let i = 0; i < 3; i++) await api.listSnapshots('papers');
} else {
  await api.version();
  await api.collectionExists('papers');
  await api.countExact('papers');
}
console.log(
  JSON.stringify({
    mode,
    rssKb: Math.round(process.memoryUsage().rss / 1024),
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
await api.close();
