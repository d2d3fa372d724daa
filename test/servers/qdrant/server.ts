/**
 * The HTTP server: request recording, response capture, auth, routing, central faults, lifecycle.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { authenticate, refuseWrite } from './auth.js';
import { type Ctx, dropConnection, type Env, type Route } from './context.js';
import { FaultRegistry } from './faults.js';
import { drain, HttpError, sendError, serviceError, sleep } from './http-util.js';
import { indexRoutes } from './payload-index.js';
import { collectionRoutes } from './routes-collections.js';
import { queryRoutes } from './routes-query.js';
import { shardRoutes } from './routes-shards.js';
import { snapshotRoutes } from './routes-snapshots.js';
import { createHasher, dropSegmentData, writeSegmentData } from './segment-data.js';
import { Store } from './store.js';
import type {
  QdrantTestServer,
  QdrantTestServerOptions,
  RecordedRequest,
  RecoveryRecord,
  ResponseRecord,
  StoredPoint,
} from './types.js';
import { ConnectionDropped } from './upload.js';

type Compiled = { route: Route; segments: string[]; literals: number };

const ROUTES: Compiled[] = [
  ...collectionRoutes,
  ...snapshotRoutes,
  ...shardRoutes,
  ...queryRoutes,
  ...indexRoutes,
].map((route) => {
  const segments = route.pattern.split('/').slice(1);
  return { route, segments, literals: segments.filter((s) => !s.startsWith('{')).length };
});

function matchRoute(
  method: string,
  path: string,
): { route: Route; params: Record<string, string> } | undefined {
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
  let best: { route: Route; params: Record<string, string>; literals: number } | undefined;
  for (const c of ROUTES) {
    if (c.route.method !== method || c.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = c.segments.every((s, i) => {
      if (s.startsWith('{')) {
        params[s.slice(1, -1)] = parts[i]!;
        return parts[i] !== '';
      }
      return s === parts[i];
    });
    if (ok && (!best || c.literals > best.literals)) best = { route: c.route, params, literals: c.literals };
  }
  return best;
}

function flatten(h: IncomingHttpHeaders | Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

/** Wrap writeHead/write/end to record status, headers and (JSON/text) body of the response. */
function capture(
  req: IncomingMessage,
  res: ServerResponse,
  rec: RecordedRequest,
  hook?: (r: ResponseRecord) => void,
) {
  const chunks: Buffer[] = [];
  let headers: Record<string, string | undefined> = {};
  const wanted = () => /json|text/.test(headers['content-type'] ?? '');
  const r = res as unknown as Record<string, (...args: unknown[]) => unknown>;
  const origHead = r.writeHead!.bind(res);
  r.writeHead = (...args: unknown[]) => {
    const extra = args.find((a, i) => i > 0 && a && typeof a === 'object' && !Array.isArray(a));
    headers = { ...flatten(res.getHeaders()), ...flatten((extra ?? {}) as Record<string, unknown>) };
    return origHead(...args);
  };
  for (const name of ['write', 'end'] as const) {
    const orig = r[name]!.bind(res);
    r[name] = (...args: unknown[]) => {
      const chunk = args[0];
      if ((typeof chunk === 'string' || Buffer.isBuffer(chunk)) && wanted()) chunks.push(Buffer.from(chunk));
      return orig(...args);
    };
  }
  let done = false;
  const report = (aborted: boolean) => {
    if (done) return;
    done = true;
    rec.status = res.headersSent ? res.statusCode : 0;
    hook?.({
      method: req.method ?? 'GET',
      path: rec.path,
      status: rec.status,
      headers,
      body: wanted() ? Buffer.concat(chunks) : undefined,
      aborted,
    });
  };
  res.on('finish', () => report(false));
  res.on('close', () => report(!res.writableFinished));
}

/**
 * Start a Qdrant test server (see `types.ts` for the options and the returned handle).
 */
export async function startQdrantTestServer(opts: QdrantTestServerOptions = {}): Promise<QdrantTestServer> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'qdrant-test-server-')));
  const snapshotsDir = join(dataDir, 'snapshots');
  const tmpDir = join(dataDir, 'tmp');
  await mkdir(snapshotsDir, { recursive: true });
  await mkdir(tmpDir, { recursive: true });
  const pending = new Set<Promise<unknown>>();
  const recoveries: RecoveryRecord[] = [];
  const env: Env = {
    store: opts.cluster?.cluster.store ?? new Store(),
    cluster: opts.cluster,
    faults: new FaultRegistry(),
    dataDir,
    snapshotsDir,
    tmpDir,
    peerId: opts.cluster?.peerId ?? opts.peerId ?? Math.floor(Math.random() * 2 ** 52) + 2 ** 40,
    version: opts.version ?? '1.19.0',
    snapshotsStorage: opts.snapshotsStorage ?? 'local',
    recoveryDelayMs: opts.recoveryDelayMs ?? 0,
    optimizeDelayMs: opts.optimizeDelayMs ?? 300,
    padding: new Map(),
    hasher: createHasher(),
    recoveries,
    background(work) {
      const p = work.catch(() => {}).finally(() => pending.delete(p));
      pending.add(p);
    },
  };
  const keys = { apiKey: opts.apiKey, readOnlyApiKey: opts.readOnlyApiKey };
  const requests: RecordedRequest[] = [];

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const start = performance.now();
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const rec: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: flatten(req.headers),
      status: 0,
    };
    requests.push(rec);
    capture(req, res, rec, opts.onResponse);
    try {
      const access = authenticate(keys, req, url.pathname);
      const match = matchRoute(method, url.pathname);
      if (!match) {
        await drain(req);
        res.writeHead(404, { 'content-length': 0 });
        res.end();
        return;
      }
      if (match.route.write && refuseWrite(access, req)) return;
      const faults = env.faults.take(match.route.op, match.params.name);
      const ctx: Ctx = {
        env,
        req,
        res,
        method,
        path: url.pathname,
        params: match.params,
        query: rec.query,
        start,
        faults,
      };
      if (faults.slow) await sleep(faults.slow.delayMs);
      const main = faults.main;
      if (main?.kind === 'status') {
        await drain(req);
        const message =
          main.message ?? (main.status === 500 ? 'Service internal error: injected fault' : 'injected fault');
        throw new HttpError(main.status, message, main.status === 401);
      }
      if (main?.kind === 'disk-full') {
        await drain(req);
        throw serviceError('No space left on device (os error 28)');
      }
      const transfer = ['upload-snapshot', 'download-snapshot', 'download-full-snapshot'].includes(
        match.route.op,
      );
      if (main?.kind === 'keep-alive-close') {
        dropConnection(ctx, false);
        return;
      }
      if (main?.kind === 'reset' && !transfer) {
        dropConnection(ctx);
        return;
      }
      await match.route.handler(ctx);
    } catch (e) {
      if (e instanceof ConnectionDropped || res.destroyed) return;
      const err = e instanceof HttpError ? e : serviceError((e as Error).message);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      await drain(req);
      sendError(res, start, err);
    }
  }

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    void handle(req, res);
  };
  const server = opts.tls
    ? createHttpsServer({ requestTimeout: 0, cert: opts.tls.cert, key: opts.tls.key }, onRequest)
    : createServer({ requestTimeout: 0 }, onRequest);
  server.keepAliveTimeout = 5000; // Qdrant (actix-web) closes connections idle for 5 s
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;

  return {
    url: `${opts.tls ? 'https' : 'http'}://${host}:${port}`,
    port,
    dataDir,
    snapshotsDir,
    version: env.version,
    requests,
    recoveries,
    inject: (fault) => env.faults.inject(fault),
    clearFaults: () => env.faults.clear(),
    setSnapshotPadding(collection, bytes) {
      dropSegmentData(env.padding.get(collection));
      if (bytes <= 0) {
        env.padding.delete(collection);
        return Promise.resolve();
      }
      const data = writeSegmentData(join(dataDir, 'segments'), collection, bytes);
      env.padding.set(collection, data);
      return data.file.then(() => {});
    },
    collections: () => [...env.store.collections.keys()],
    points(collection): StoredPoint[] {
      const c = env.store.get(collection);
      return structuredClone(env.store.sorted(c));
    },
    aliases: () => Object.fromEntries(env.store.aliases),
    async stop() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await Promise.allSettled([...pending]);
      await env.hasher.close();
      for (const data of env.padding.values()) dropSegmentData(data);
      if (ownDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
