/**
 * What the official Qdrant client would cost in memory, in a process that has loaded what the
 * qnb CLI loads. Plain JavaScript (run with `node`, no tsx, so tsx's own memory does not blur the
 * number):
 *
 *   node bench/client-cost.mjs QNB_MAIN_JS URL raw|official
 *
 * Both modes first make one call through qnb's own API (so qnb's undici is loaded), then
 * version / collectionExists / countExact — the control calls backup and restore make. `raw`
 * makes them through qnb's own API (plain REST over node:http, what qnb does since the perf
 * branch); `official` through `@qdrant/js-client-rest` (what qnb did before; it brings its own
 * copy of undici 6). Prints {"mode","rssKb","maxRssKb"} after the calls.
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
  await api.version();
  await api.collectionExists('papers');
  await api.countExact('papers');
} else {
  const { QdrantClient } = await import('@qdrant/js-client-rest');
  const client = new QdrantClient({ url, checkCompatibility: false });
  await client.versionInfo();
  await client.collectionExists('papers');
  await client.count('papers', { exact: true });
}
console.log(
  JSON.stringify({
    mode,
    rssKb: Math.round(process.memoryUsage().rss / 1024),
    maxRssKb: process.resourceUsage().maxRSS,
  }),
);
await api.close();
