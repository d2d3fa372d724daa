/**
 * Deferred points (`optimizers_config.prevent_unoptimized: true`, Qdrant ≥ 1.17): points in an
 * unoptimized segment grown past `indexing_threshold` stay invisible to count, scroll, retrieve
 * and `points_count` until the optimizer has processed them (Qdrant's test
 * tests/openapi/test_deferred_points.py). Snapshots hold them all.
 *
 * Model: points written since the last optimization beyond the first `indexing_threshold` are
 * deferred. The optimizer runs `optimizeDelayMs` after a write or a recovery (never when
 * `max_optimization_threads` is 0) and makes them visible; meanwhile the collection's status is
 * `yellow` (`grey` when optimizers are off).
 */
import type { Env } from './context.js';
import { sleep } from './http-util.js';
import { idKey } from './points.js';
import type { CollectionState } from './store.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

interface DeferredState {
  /** Points written since the last optimization, in write order. */
  fresh: string[];
  deferred: Set<string>;
}

const states = new WeakMap<CollectionState, DeferredState>();

function optimizer(c: CollectionState): Json {
  return (c.config.optimizer_config ?? {}) as Json;
}

/** Whether the collection defers unoptimized points. */
export function defers(c: CollectionState): boolean {
  return optimizer(c).prevent_unoptimized === true;
}

/** Whether point `p` is visible to reads. */
export function visible(c: CollectionState, p: StoredPoint): boolean {
  return !states.get(c)?.deferred.has(idKey(p.id));
}

/** Number of visible points. */
export function visibleCount(c: CollectionState): number {
  const s = states.get(c);
  if (!s) return c.points.size;
  let hidden = 0;
  for (const k of s.deferred) if (c.points.has(k)) hidden++;
  return c.points.size - hidden;
}

/** Collection status: yellow while deferred points wait for the optimizer, grey when it is off. */
export function collectionStatus(c: CollectionState): 'green' | 'yellow' | 'grey' {
  const s = states.get(c);
  if (!s || s.deferred.size === 0) return 'green';
  return optimizer(c).max_optimization_threads === 0 ? 'grey' : 'yellow';
}

/** Record written points (upsert or recovery) and schedule the optimizer. */
export function pointsWritten(env: Env, c: CollectionState, keys: string[]): void {
  if (!defers(c)) return;
  const s = states.get(c) ?? { fresh: [], deferred: new Set<string>() };
  states.set(c, s);
  const threshold = Number(optimizer(c).indexing_threshold ?? 10000);
  for (const k of keys) {
    s.fresh.push(k);
    if (s.fresh.length > threshold) s.deferred.add(k);
  }
  if (s.deferred.size === 0 || optimizer(c).max_optimization_threads === 0) return;
  env.background(
    sleep(env.optimizeDelayMs).then(() => {
      s.deferred.clear();
      s.fresh = [];
    }),
  );
}

/** After a recovery: every recovered point is unoptimized again. */
export function pointsRecovered(env: Env, c: CollectionState): void {
  states.delete(c);
  pointsWritten(env, c, [...c.points.keys()]);
}
