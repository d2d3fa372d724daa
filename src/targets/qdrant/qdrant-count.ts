/**
 * Exact point counts that work under a collection's strict mode.
 *
 * Qdrant's strict mode (`strict_mode_config: {enabled: true, search_allow_exact: false}`) answers
 * `count {exact: true}` with 400 "Bad request: Exact search disabled!. Help: Set exact=false."
 * (lib/collection/src/operations/verification: `check_request_exact`). An approximate count
 * would loosen verification, so qnb then counts exactly by scrolling ids (no payload, no
 * vectors), in pages no larger than the collection's `max_query_limit`. Both requests send
 * `timeout` (Qdrant's own default is 60 s, then 408), capped by strict mode's `max_timeout`.
 */
import { QnbError } from '../../core/errors.js';
import type { QdrantApi } from './qdrant-api.js';

/** How a count was taken. */
export type CountMethod = 'exact' | 'scroll';

interface StrictMode {
  enabled?: boolean;
  search_allow_exact?: boolean | null;
  max_query_limit?: number | null;
  max_timeout?: number | null;
}

/** qnb's own limit for one count request, in seconds. */
const COUNT_TIMEOUT_S = 600;
/** Page size of a scroll count. */
const SCROLL_PAGE = 1000;

/** The enabled strict-mode settings of a CollectionInfo (or its `config`), if any. */
export function strictModeOf(
  infoOrConfig: Record<string, unknown> | null | undefined,
): StrictMode | undefined {
  const config = (infoOrConfig?.config ?? infoOrConfig) as { strict_mode_config?: StrictMode } | undefined;
  const s = config?.strict_mode_config;
  return s?.enabled === true ? s : undefined;
}

/**
 * `wanted` capped by strict mode's `max_query_limit` (Qdrant refuses a larger `limit` of scroll
 * and query with 400 "Limit exceeded"): every limit qnb sends goes through this.
 */
export function queryLimit(wanted: number, strict: StrictMode | undefined): number {
  return Math.min(wanted, strict?.max_query_limit ?? wanted);
}

/** Whether strict mode forbids exact counts. */
export function exactCountForbidden(strict: StrictMode | undefined): boolean {
  return strict?.search_allow_exact === false;
}

function isExactDisabled(err: unknown): boolean {
  return err instanceof QnbError && /Exact search disabled/i.test(err.message);
}

/**
 * Counts the points of `name` exactly. `info` is its CollectionInfo when the caller has it
 * (read fresh otherwise, so a restored collection's inherited strict mode is seen).
 */
export async function countPoints(
  api: QdrantApi,
  name: string,
  info?: Record<string, unknown>,
): Promise<{ count: number; method: CountMethod }> {
  const strict = strictModeOf(info ?? (await api.getCollection(name)));
  const timeout = Math.min(COUNT_TIMEOUT_S, strict?.max_timeout ?? COUNT_TIMEOUT_S);
  const page = queryLimit(SCROLL_PAGE, strict);
  const scroll = async () => ({
    count: await api.countByScroll(name, Math.max(1, page), timeout),
    method: 'scroll' as const,
  });
  if (exactCountForbidden(strict)) return scroll();
  try {
    return { count: await api.countExact(name, timeout), method: 'exact' };
  } catch (err) {
    // strict mode switched on since the collection info was read
    if (isExactDisabled(err)) return scroll();
    throw err;
  }
}
