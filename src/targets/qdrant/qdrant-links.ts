/**
 * The Qdrant side of a link between the stores (docs/consistency.md): every distinct value of
 * one payload field in one collection, read by scrolling with only that field in the payload.
 */
import type { LinkConfig } from '../../config/schema.js';
import type { LinkSideReader } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import { queryLimit, strictModeOf } from './qdrant-count.js';

const PAGE = 1000;

/** Keys of a payload value: a string or number, or each of a list of them. */
function keysOf(v: unknown, out: Set<string>): void {
  if (typeof v === 'string' || typeof v === 'number') out.add(String(v));
  else if (Array.isArray(v)) for (const x of v) keysOf(x, out);
}

/** Every distinct value of `field` in `collection`, in pages within strict mode's max_query_limit. */
export async function qdrantKeys(
  api: QdrantApi,
  collection: string,
  field: string,
  signal?: AbortSignal,
): Promise<string[]> {
  const keys = new Set<string>();
  const limit = Math.max(1, queryLimit(PAGE, strictModeOf(await api.getCollection(collection))));
  let offset: unknown = null;
  do {
    signal?.throwIfAborted();
    const page: { points: { payload?: Record<string, unknown> | null }[]; next_page_offset?: unknown } =
      await api.points(collection, 'scroll', {
        limit,
        with_payload: { include: [field] },
        with_vector: false,
        ...(offset === null ? {} : { offset }),
      });
    for (const p of page.points) keysOf(p.payload?.[field], keys);
    offset = page.next_page_offset ?? null;
  } while (offset !== null);
  return [...keys];
}

/** The Qdrant side of `link`: read before the snapshot of its collection. */
export function qdrantLinkSide(api: () => QdrantApi, link: LinkConfig): LinkSideReader {
  const { collection, field } = link.qdrant;
  return {
    scope: collection,
    where: `${collection}.${field}`,
    read: (ctx) => qdrantKeys(api(), collection, field, ctx.signal),
  };
}
