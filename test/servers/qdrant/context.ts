/**
 * Shared server environment, per-request context and the route type.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClusterMember } from './cluster.js';
import type { ActiveFaults, FaultRegistry } from './faults.js';
import { sendAccepted, sendOk } from './http-util.js';
import type { Hasher, SegmentData } from './segment-data.js';
import type { Store } from './store.js';
import type { FaultOp, RecoveryRecord } from './types.js';

/** Server-wide state handed to every handler. */
export interface Env {
  store: Store;
  faults: FaultRegistry;
  dataDir: string;
  snapshotsDir: string;
  /** Temp dir for snapshot creation, uploads and downloads (like storage/tmp). */
  tmpDir: string;
  peerId: number;
  /** Cluster mode (cluster.ts): shared placement; undefined on a single node. */
  cluster?: ClusterMember;
  version: string;
  /** How long the optimizer takes to make deferred points visible (see deferred.ts). */
  optimizeDelayMs: number;
  /** Pause between creating a missing collection and filling it, in a recovery. */
  recoveryDelayMs: number;
  /** `snapshots_storage`: local files, or S3 objects (see s3-storage.ts). */
  snapshotsStorage: 'local' | 's3';
  /** Test-only bulk data per collection (setSnapshotPadding), archived into its snapshots. */
  padding: Map<string, SegmentData>;
  /** The checksum pass of snapshot creation, off the thread serving requests. */
  hasher: Hasher;
  recoveries: RecoveryRecord[];
  /** Run work after the response (wait=false / accepted); stop() waits for it. */
  background(work: Promise<unknown>): void;
}

/** One request being handled. */
export interface Ctx {
  env: Env;
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  params: Record<string, string>;
  query: Record<string, string>;
  /** performance.now() at arrival. */
  start: number;
  faults: ActiveFaults;
}

/** A route: method + path template (`{param}` segments), fault op, whether it needs manage access. */
export interface Route {
  method: string;
  pattern: string;
  op: FaultOp;
  write: boolean;
  handler: (ctx: Ctx) => Promise<void>;
}

/** What nginx answers when it gives up on the upstream (not a Qdrant response: `Via` set). */
function sendProxyError(ctx: Ctx, status: 502 | 504): void {
  const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
  const body = Buffer.from(
    `<html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>\n`,
  );
  ctx.res.writeHead(status, { 'content-type': 'text/html', 'content-length': body.length, via: '1.1 proxy' });
  ctx.res.end(body);
}

/** Destroy the client connection without answering (reset / drop-after-commit). */
export function dropConnection(ctx: Ctx, hard = true): void {
  const socket = ctx.res.socket ?? ctx.req.socket;
  if (!socket) return;
  if (hard && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Finish a mutating operation like Qdrant's `time_or_accept`: with wait=false (or the `accepted`
 * fault) answer 202 at once and keep working; otherwise answer when done, unless the
 * `drop-after-commit` fault says to drop the connection after the work.
 */
export async function finishMutation<T>(
  ctx: Ctx,
  wait: boolean,
  work: () => Promise<T>,
  toResult: (value: T) => unknown = (v) => v,
): Promise<void> {
  const main = ctx.faults.main;
  if (!wait || main?.kind === 'accepted') {
    ctx.env.background(work());
    sendAccepted(ctx.res, ctx.start);
    return;
  }
  if (main?.kind === 'proxy-gave-up') {
    ctx.env.background(work());
    sendProxyError(ctx, main.status ?? 504);
    return;
  }
  const value = await work();
  if (main?.kind === 'drop-after-commit') {
    dropConnection(ctx);
    return;
  }
  sendOk(ctx.res, ctx.start, toResult(value));
}
