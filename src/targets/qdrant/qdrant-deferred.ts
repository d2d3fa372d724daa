/**
 * Deferred points: with `optimizers_config.prevent_unoptimized: true` Qdrant hides points in
 * unoptimized segments from count, scroll and retrieve until the optimizer has processed them,
 * while a snapshot holds them all. A count taken then is too low, at backup and at restore.
 * qnb waits for such a collection to settle (status `green`: nothing left for the optimizer)
 * before counting; if it does not settle, the backup records the visible count as a lower bound
 * only (`counts.pointsMin`), and the restore says it could not verify the rest.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, throwIfAborted } from '../../core/errors.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';

/** How long qnb waits for the optimizer. */
const SETTLE_TIMEOUT_MS = 60_000;
const SETTLE_INTERVAL_MS = 250;

/** Whether a CollectionInfo's config defers unoptimized points. */
export function defersPoints(info: Record<string, unknown>): boolean {
  const config = info.config as { optimizer_config?: { prevent_unoptimized?: boolean | null } } | undefined;
  return config?.optimizer_config?.prevent_unoptimized === true;
}

/**
 * For a collection that defers points: waits until its status is green. Returns the last
 * CollectionInfo and whether it settled. Other collections are returned at once as settled.
 */
export async function settleDeferred(
  api: QdrantApi,
  name: string,
  info: Record<string, unknown>,
  ctx: TargetContext,
  timeoutMs = SETTLE_TIMEOUT_MS,
): Promise<{ info: Record<string, unknown>; settled: boolean }> {
  if (!defersPoints(info) || info.status === 'green') return { info, settled: true };
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name,
    message: `"${name}" hides points the optimizer has not processed yet (prevent_unoptimized, status ${String(info.status)}); waiting for it before counting`,
  });
  const deadline = Date.now() + timeoutMs;
  let last = info;
  while (Date.now() < deadline) {
    throwIfAborted(ctx.signal);
    await sleep(SETTLE_INTERVAL_MS, undefined, { signal: ctx.signal }).catch(() => {
      throw new InterruptedError();
    });
    last = await api.getCollection(name);
    if (last.status === 'green') return { info: last, settled: true };
  }
  return { info: last, settled: false };
}
