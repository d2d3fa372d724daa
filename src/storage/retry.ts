/**
 * Retries for copy destinations (restic's `retry/`): a call whose error is `retryable` (network, 5xx,
 * a checksum the server rejected) is tried again with backoff; anything else, or an abort, ends it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, toQnbError } from '../core/errors.js';

/** Options of withRetry. */
export interface RetryOptions {
  /** Tries in all. @default 3 */
  attempts?: number;
  /** Delay before the second try; doubles each time. @default 500 */
  baseDelayMs?: number;
  signal?: AbortSignal;
  /** Told before each new try. */
  onRetry?: (attempt: number, error: Error) => void;
}

/** Runs `fn` (which must start afresh on every call) until it succeeds or fails for good. */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const e = toQnbError(err, opts.signal);
      if (opts.signal?.aborted) throw new InterruptedError();
      if (!e.retryable || attempt >= attempts) throw e;
      opts.onRetry?.(attempt, e);
      try {
        await sleep((opts.baseDelayMs ?? 500) * 2 ** (attempt - 1), undefined, { signal: opts.signal });
      } catch {
        throw new InterruptedError();
      }
    }
  }
}
