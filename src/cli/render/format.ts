/** Small formatting helpers shared by the text renderers. */
import { isAbsolute, relative } from 'node:path';
import type { ArtifactCounts } from '../../core/manifest.js';

/** `1650.3 MB`, as in the seed (bytes / 1024²). */
export function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** `134,068`. */
export function thousands(n: number): string {
  // integers without toLocaleString: its first call sets up ICU number formatting (~20 ms of `qnb list`)
  if (Number.isSafeInteger(n)) return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
  return n.toLocaleString('en-US');
}

/** A path shown relative to cwd when it lies below it (`backups/qdrant/…`), else absolute. */
export function shownPath(abs: string, cwd: string): string {
  const rel = relative(cwd, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
}

/** A Neo4j count: exact, or "10–12 (changed around the dump)" (neo4j-count-range.ts). */
export function graphCountText(
  a: { counts: ArtifactCounts },
  key: 'nodes' | 'relationships',
): string | undefined {
  const c = a.counts;
  const exact = c[key];
  if (typeof exact === 'number') return thousands(exact);
  const min = c[`${key}Min`];
  const max = c[`${key}Max`];
  if (typeof min === 'number' && typeof max === 'number')
    return `${thousands(min)}–${thousands(max)} (changed around the dump)`;
  return undefined;
}
