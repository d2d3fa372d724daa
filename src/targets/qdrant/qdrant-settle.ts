/**
 * After an interrupted upload (a proxy's 502/504, or a connection lost after the whole file was
 * sent), Qdrant may still be recovering in the background: its handler runs to completion
 * without the client. It creates a missing collection first and recovers the shards after, so
 * an empty collection can mean "still running" or "failed". qnb waits for the collection to hold
 * the backed-up points before it deletes the uploaded copy (deleting earlier races the recovery)
 * and reports what is on the server when it does not settle.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, QnbError, throwIfAborted } from '../../core/errors.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import { countPoints } from './qdrant-count.js';

/** Knobs of settleAfterInterruptedUpload. */
export interface SettleOptions {
  /** Points the backup holds: [min, max]; undefined when not recorded. */
  expected: [number, number] | undefined;
  /** @default 600000 */
  timeoutMs?: number;
  /** @default 1000 */
  intervalMs?: number;
}

/** What the server holds under `target`, in words. */
async function describeTarget(api: QdrantApi, target: string): Promise<string> {
  try {
    if (!(await api.collectionExists(target))) return `"${target}" does not exist on the server`;
    const { count } = await countPoints(api, target);
    return `"${target}" exists with ${count} point(s) (Qdrant creates the collection before recovering it, so an unfinished or failed recovery leaves it like this)`;
  } catch (err) {
    return `the server could not be asked what "${target}" holds (${(err as Error).message})`;
  }
}

/**
 * Waits until `target` holds the expected number of points (or, with no recorded count, until
 * a non-zero count holds still); throws an E_SERVER error describing the server otherwise.
 */
export async function settleAfterInterruptedUpload(
  api: QdrantApi,
  target: string,
  cause: QnbError,
  ctx: TargetContext,
  opts: SettleOptions,
): Promise<void> {
  ctx.reporter.emit({
    type: 'warning',
    target: 'qdrant',
    name: target,
    message: `the answer to the upload was lost (${cause.message}); Qdrant finishes a recovery in the background, so qnb waits for "${target}" to settle`,
  });
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < deadline) {
    throwIfAborted(ctx.signal);
    try {
      if (await api.collectionExists(target)) {
        const { count } = await countPoints(api, target);
        const range = opts.expected;
        if (range ? count >= range[0] && count <= range[1] : count > 0 && count === last) return;
        last = count;
      }
    } catch {
      // the server is busy or briefly unreachable: ask again
    }
    await sleep(opts.intervalMs ?? 1000, undefined, { signal: ctx.signal }).catch(() => {
      throw new InterruptedError();
    });
  }
  throw new QnbError(
    'E_SERVER',
    `qdrant ${api.baseUrl}: upload to "${target}" was interrupted (${cause.message}) and the collection did not settle within ${Math.round(timeoutMs / 1000)} s: ${await describeTarget(api, target)}`,
    {
      hint: 'check the Qdrant server log; the recovery may still be running there — run the restore again once it is idle',
      cause,
    },
  );
}
