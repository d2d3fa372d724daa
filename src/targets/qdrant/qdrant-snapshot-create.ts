/**
 * Creates a Qdrant snapshot without a client timeout and never twice: after a lost connection,
 * a proxy's gateway error or a 202 it is looked up on the server instead of created again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, QnbError, throwIfAborted } from '../../core/errors.js';
import type { TargetContext } from '../target.js';
import { type QdrantApi, type SnapshotDescription, type SnapshotScope, scopeLabel } from './qdrant-api.js';
import { isGatewayFailure } from './qdrant-errors.js';

/** Per-run knobs for Qdrant backups. */
export interface QdrantBackupOptions {
  keepServerSnapshot: boolean;
  /** Points sampled for restore verification. @default 3 */
  sampleSize?: number;
  /** Points probed with their exact top-10 neighbours (drill.qdrantSamples). @default 20 */
  probeSamples?: number;
  /** How long to look for a snapshot after a lost connection or a 202. @default 600000 */
  lookupTimeoutMs?: number;
  /** Pause between lookups. @default 1000 */
  lookupIntervalMs?: number;
}

/**
 * Creates a snapshot. After a network error or a 202 the snapshot may still be in the works on
 * the server, so it is looked up in the list (names not seen before) instead of created again.
 */
export async function createSnapshotOnce(
  api: QdrantApi,
  scope: SnapshotScope,
  ctx: TargetContext,
  opts: QdrantBackupOptions,
): Promise<SnapshotDescription> {
  const before = new Set((await api.listSnapshots(scope)).map((s) => s.name));
  let lost: unknown;
  try {
    const res = await api.createSnapshot(scope, { signal: ctx.signal });
    if (res !== 'accepted') return res;
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      message: `snapshot of ${scopeLabel(scope)} accepted (202); waiting for it`,
    });
  } catch (err) {
    if (ctx.signal?.aborted) {
      // interrupted while the server creates it: Qdrant finishes it anyway, so delete it then
      if (!opts.keepServerSnapshot) await deleteCreatedMeanwhile(api, scope, before, ctx);
      throw new InterruptedError();
    }
    const gateway = isGatewayFailure(err);
    if (!(err instanceof QnbError) || (err.code !== 'E_CONNECT' && !gateway)) throw err;
    lost = err;
    const what = gateway ? `a proxy gave up (${err.message.replace(/^.*: /, '')})` : 'connection lost';
    ctx.reporter.emit({
      type: 'warning',
      target: 'qdrant',
      message: `${what} while creating the snapshot of ${scopeLabel(scope)}; Qdrant finishes it anyway, so qnb looks for it on the server instead of creating a second one`,
    });
  }
  const deadline = Date.now() + (opts.lookupTimeoutMs ?? 600_000);
  let lastError: unknown = lost;
  const sizes = new Map<string, number>();
  while (Date.now() < deadline) {
    throwIfAborted(ctx.signal);
    try {
      const fresh = (await api.listSnapshots(scope)).filter((s) => !before.has(s.name));
      // a snapshot is complete once its checksum file exists (local storage)
      const done = fresh.find((s) => s.checksum);
      if (done) return done;
      // S3 snapshot storage never lists a checksum (objects appear once uploaded whole): take
      // a fresh snapshot whose size held still between two listings; the download is then
      // checked against that size and hashed by qnb (checksumSource "self")
      const settled = fresh.find((s) => s.size > 0 && sizes.get(s.name) === s.size);
      if (settled) {
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          message: `found ${settled.name} on the server without a checksum (S3 snapshot storage?); its size held still at ${settled.size} bytes`,
        });
        return settled;
      }
      for (const s of fresh) sizes.set(s.name, s.size);
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    await sleep(opts.lookupIntervalMs ?? 1000, undefined, { signal: ctx.signal }).catch(() => {
      throw new InterruptedError();
    });
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new QnbError(
    'E_SERVER',
    `qdrant ${api.baseUrl}: snapshot of ${scopeLabel(scope)} did not appear on the server${reason}`,
    {
      hint: 'check the Qdrant server log; no second snapshot was created',
      retryable: true,
    },
  );
}

/** How long an interrupted backup waits for the snapshot it asked for, to delete it. */
const INTERRUPT_CLEANUP_MS = 10_000;

/**
 * After an interrupt during creation: waits (briefly, without the aborted signal) for snapshots
 * not in `before` to complete on the server and deletes them; names any it could not wait for.
 */
async function deleteCreatedMeanwhile(
  api: QdrantApi,
  scope: SnapshotScope,
  before: Set<string>,
  ctx: TargetContext,
): Promise<void> {
  const deadline = Date.now() + INTERRUPT_CLEANUP_MS;
  let pending: string[] = [];
  while (Date.now() < deadline) {
    const fresh = await api.listSnapshots(scope).then(
      (list) => list.filter((s) => !before.has(s.name)),
      () => [],
    );
    const done = fresh.filter((s) => s.checksum);
    for (const s of done) await api.deleteSnapshot(scope, s.name).catch(() => {});
    if (done.length) return;
    pending = fresh.map((s) => s.name);
    await sleep(250);
  }
  ctx.reporter.emit({
    type: 'warning',
    target: 'qdrant',
    message: `interrupted while Qdrant created a snapshot of ${scopeLabel(scope)}; Qdrant may still finish ${pending.length ? pending.join(', ') : 'it'}: delete it on the server`,
  });
}
