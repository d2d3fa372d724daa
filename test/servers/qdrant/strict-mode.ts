/**
 * Strict mode of a collection (`strict_mode_config`), enforced like Qdrant's
 * `StrictModeVerification` (lib/collection/src/operations/verification/): only when
 * `enabled: true`; refusals are 400 "Bad request: {what}. Help: {fix}".
 *
 * Modelled checks (the ones qnb's requests can meet):
 * - count: `exact` (default true) with `search_allow_exact: false` → "Exact search disabled!";
 * - scroll: `limit` (default 10) above `max_query_limit` → "Limit exceeded … for \"limit\"";
 * - query: `limit` (default 10) above `max_query_limit` → the same refusal;
 * - count and scroll: `timeout` above `max_timeout` → "Limit exceeded … for \"timeout\"".
 */
import { HttpError, validationError } from './http-util.js';
import type { CollectionState } from './store.js';

type Json = Record<string, unknown>;

function strict(c: CollectionState): Json | undefined {
  const s = c.config.strict_mode_config as Json | undefined | null;
  return s && s.enabled === true ? s : undefined;
}

function refuse(what: string, fix: string): HttpError {
  return new HttpError(400, `Bad request: ${what}. Help: ${fix}`);
}

function checkLimit(value: number | undefined, limit: unknown, name: string): void {
  if (value === undefined || typeof limit !== 'number' || value <= limit) return;
  throw refuse(
    `Limit exceeded ${value} > ${limit} for "${name}"`,
    `Reduce the "${name}" parameter to or below ${limit}.`,
  );
}

/** The `timeout` query parameter (seconds, ≥ 1) or undefined. */
export function timeoutParam(query: Record<string, string>): number | undefined {
  const raw = query.timeout;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1) {
    throw validationError('query parameters', `timeout: value ${raw} invalid, must be 1 or larger`);
  }
  return n;
}

/** Strict-mode checks of `POST …/points/count`. */
export function checkCount(c: CollectionState, body: Json, query: Record<string, string>): void {
  const timeout = timeoutParam(query);
  const s = strict(c);
  if (!s) return;
  checkLimit(timeout, s.max_timeout, 'timeout');
  const exact = body.exact === undefined || body.exact === null ? true : body.exact === true;
  if (exact && s.search_allow_exact === false) throw refuse('Exact search disabled!', 'Set exact=false.');
}

/** Strict-mode checks of `POST …/points/scroll` (`limit` is the effective page size). */
export function checkScroll(c: CollectionState, limit: number, query: Record<string, string>): void {
  const timeout = timeoutParam(query);
  const s = strict(c);
  if (!s) return;
  checkLimit(limit, s.max_query_limit, 'limit');
  checkLimit(timeout, s.max_timeout, 'timeout');
}

/** Strict-mode checks of `POST …/points/query` (`limit` is the effective number of results). */
export function checkQuery(c: CollectionState, limit: number): void {
  const s = strict(c);
  if (s) checkLimit(limit, s.max_query_limit, 'limit');
}
