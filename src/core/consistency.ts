/**
 * Links between the stores (docs/consistency.md): digests of key sets, orphans on either side,
 * and how a set's links read in reports (`consistency: 0 orphans`).
 */
import { createHash } from 'node:crypto';
import type { LinkRecord, Orphans } from './manifest.js';

/** Orphan examples kept per side. */
const EXAMPLES = 20;

/** sha256 of sorted distinct keys, one per line: equal key sets, equal digests. */
export function keysDigest(keys: Iterable<string>): string {
  const sorted = [...new Set(keys)].sort();
  return createHash('sha256').update(sorted.join('\n')).digest('hex');
}

/** Keys of `a` not in `b`. */
export function orphans(a: readonly string[], b: readonly string[]): Orphans {
  const other = new Set(b);
  const missing = [...new Set(a)].filter((k) => !other.has(k)).sort();
  return { count: missing.length, examples: missing.slice(0, EXAMPLES) };
}

/** `12 points without a node (e.g. K1, K2)`, or `0 orphans`. */
export function describeLink(l: LinkRecord): string {
  if (l.skipped) return `not checked: ${l.skipped}`;
  const parts: string[] = [];
  const eg = (o: Orphans) => (o.count ? ` (e.g. ${o.examples.slice(0, 5).join(', ')})` : '');
  const p = l.pointsWithoutNode;
  const n = l.nodesWithoutPoint;
  if (p?.count) parts.push(`${p.count} point key${p.count === 1 ? '' : 's'} without a node${eg(p)}`);
  if (n?.count) parts.push(`${n.count} node${n.count === 1 ? '' : 's'} without a point${eg(n)}`);
  return parts.length ? parts.join(', ') : '0 orphans';
}

/** Total orphans of a link (both sides). */
export const orphanCount = (l: LinkRecord) =>
  (l.pointsWithoutNode?.count ?? 0) + (l.nodesWithoutPoint?.count ?? 0);

/** `consistency: …` for a set's links, or undefined when it recorded none. */
export function consistencyText(links: readonly LinkRecord[] | undefined): string | undefined {
  if (!links?.length) return undefined;
  if (links.length === 1) return `consistency: ${describeLink(links[0]!)}`;
  return `consistency: ${links.map((l) => `${l.name}: ${describeLink(l)}`).join('; ')}`;
}
