/**
 * The Qdrant test server in its own process, for the bench:
 *
 *   node --import tsx bench/qdrant-server.ts --mb 512 [--collection papers] [--data-dir D]
 *        [--max-seconds 900] [--watch-stdin] [--extra N --extra-mb MB]
 *
 * Starts `test/servers/qdrant` on a free loopback port, seeds `papers` and `chunks` through the
 * official client (test/helpers/qdrant-data.ts), gives `--collection` `--mb` MiB of data (written
 * once, before the ready line; each snapshot archives it, as Qdrant archives segment files), with
 * `--extra N` also creates `bulk-1`…`bulk-N` (`--extra-mb` MiB of data each: several
 * collections), then prints one line
 *   QNB_BENCH_SERVER {"url":"http://127.0.0.1:PORT","collection":"papers","paddingBytes":N,"pid":P}
 * and keeps serving until SIGTERM/SIGINT, until its stdin closes (with --watch-stdin: the bench
 * went away), or after --max-seconds — whichever comes first.
 *
 * For every HTTP request it also prints
 *   QNB_BENCH_TIMING {"method","url","status","startMs","recvMs","totalMs","cpuMs"}
 * startMs = when the request arrived (epoch ms), recvMs = until the request body was fully received, totalMs = until the response finished,
 * cpuMs = CPU time (user+sys) of this whole server process meanwhile (the bench sends one
 * request at a time, so that is the request's cost).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { clientFor, seedCollections } from '../test/helpers/qdrant-data.js';
import { startQdrantTestServer } from '../test/servers/qdrant/index.js';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '512' },
    collection: { type: 'string', default: 'papers' },
    'data-dir': { type: 'string' },
    'max-seconds': { type: 'string', default: '900' },
    'watch-stdin': { type: 'boolean', default: false },
    /** More collections `bulk-1`…`bulk-N` (a few points each), snapshots padded with --extra-mb. */
    extra: { type: 'string', default: '0' },
    'extra-mb': { type: 'string', default: '100' },
  },
});

function track(req: IncomingMessage, res: ServerResponse): void {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let recv: number | undefined;
  req.once('end', () => {
    recv = performance.now() - t0;
  });
  let done = false;
  const report = () => {
    if (done) return;
    done = true;
    const cpu = process.cpuUsage(cpu0);
    const line = {
      method: req.method,
      url: req.url,
      status: res.statusCode,
      startMs: performance.timeOrigin + t0,
      recvMs: recv ?? null,
      totalMs: performance.now() - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
    process.stdout.write(`QNB_BENCH_TIMING ${JSON.stringify(line)}\n`);
  };
  res.once('finish', report);
  res.once('close', report);
}

// Observe every request of every http.Server in this process (the test server is the only one).
const originalEmit = http.Server.prototype.emit;
http.Server.prototype.emit = function emit(this: http.Server, event: string | symbol, ...args: unknown[]) {
  if (event === 'request') track(args[0] as IncomingMessage, args[1] as ServerResponse);
  return (originalEmit as (...a: unknown[]) => boolean).apply(this, [event, ...args]);
} as typeof originalEmit;

const collection = values.collection;
const paddingBytes = Math.round(Number(values.mb) * 1024 * 1024);
const server = await startQdrantTestServer({
  port: 0,
  host: '127.0.0.1',
  ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
});

let stopping = false;
function shutdown(code: number): void {
  if (stopping) return;
  stopping = true;
  server.stop().then(
    () => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
if (values['watch-stdin']) {
  process.stdin.on('end', () => shutdown(0));
  process.stdin.on('close', () => shutdown(0));
  process.stdin.on('error', () => shutdown(0));
  process.stdin.resume();
}
setTimeout(() => shutdown(2), Number(values['max-seconds']) * 1000).unref();

try {
  await seedCollections(clientFor(server.url));
  if (!server.collections().includes(collection))
    throw new Error(`no collection ${collection} after seeding`);
  await server.setSnapshotPadding(collection, paddingBytes);
  const client = clientFor(server.url);
  for (let i = 1; i <= Number(values.extra); i++) {
    const name = `bulk-${i}`;
    await client.createCollection(name, { vectors: { size: 4, distance: 'Cosine' } });
    await client.upsert(name, {
      wait: true,
      points: Array.from({ length: 20 }, (_, id) => ({
        id: id + 1,
        vector: [1, id, i, 0.5],
        payload: { i },
      })),
    });
    await server.setSnapshotPadding(name, Math.round(Number(values['extra-mb']) * 1024 * 1024));
  }
} catch (e) {
  console.error(e);
  shutdown(1);
}
process.stdout.write(
  `QNB_BENCH_SERVER ${JSON.stringify({ url: server.url, collection, paddingBytes, pid: process.pid })}\n`,
);
