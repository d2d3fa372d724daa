/**
 * Parsers of the config-file-only keys of links, quiesce hooks and drill probes
 * (docs/consistency.md). Each throws a message naming the offending element, e.g.
 * `links[0].qdrant.field: must be a non-empty string`.
 */
import type { DrillConfig, LinkConfig } from './schema.js';

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function name(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new Error(`${where}: must be a non-empty string`);
  return v.trim();
}

function only(v: Record<string, unknown>, where: string, keys: string[]): void {
  const extra = Object.keys(v).filter((k) => !keys.includes(k));
  if (extra.length) throw new Error(`${where}: unknown key "${extra[0]}" (known: ${keys.join(', ')})`);
}

function side(v: unknown, where: string, keys: [string, string]): Record<string, string> {
  if (!isRecord(v)) throw new Error(`${where}: must be an object with ${keys.join(' and ')}`);
  only(v, where, keys);
  return Object.fromEntries(keys.map((k) => [k, name(v[k], `${where}.${k}`)]));
}

/** `links`: a list of `{ qdrant: { collection, field }, neo4j: { label, property }, maxOrphans?, name? }`. */
export function links(raw: unknown): LinkConfig[] {
  if (!Array.isArray(raw)) throw new Error('must be a list of links');
  return raw.map((l, i): LinkConfig => {
    const at = `links[${i}]`;
    if (!isRecord(l)) throw new Error(`${at}: must be an object with qdrant and neo4j`);
    only(l, at, ['name', 'qdrant', 'neo4j', 'maxOrphans']);
    const q = side(l.qdrant, `${at}.qdrant`, ['collection', 'field']);
    const n = side(l.neo4j, `${at}.neo4j`, ['label', 'property']);
    const max = l.maxOrphans ?? 0;
    if (!Number.isSafeInteger(max) || (max as number) < 0)
      throw new Error(`${at}.maxOrphans: "${String(max)}" is not a whole number ≥ 0`);
    return {
      name:
        l.name === undefined
          ? `${q.collection}.${q.field} ↔ :${n.label}.${n.property}`
          : name(l.name, `${at}.name`),
      qdrant: { collection: q.collection!, field: q.field! },
      neo4j: { label: n.label!, property: n.property! },
      maxOrphans: max as number,
    };
  });
}

/** `drill.neo4jQueries`: Cypher strings or `{ name, query }`; only reading clauses. */
export function neo4jQueries(raw: unknown): DrillConfig['neo4jQueries'] {
  if (!Array.isArray(raw)) throw new Error('must be a list of Cypher queries');
  return raw.map((q, i) => {
    const at = `drill.neo4jQueries[${i}]`;
    const entry = typeof q === 'string' ? { name: `query ${i + 1}`, query: q } : q;
    if (!isRecord(entry)) throw new Error(`${at}: must be a Cypher string or { name, query }`);
    only(entry, at, ['name', 'query']);
    const query = name(entry.query, `${at}.query`);
    if (
      /\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|LOAD\s+CSV|FOREACH)\b/i.test(query) ||
      /\bCALL\b/i.test(query)
    )
      throw new Error(`${at}: only read-only queries (MATCH … RETURN) are allowed`);
    return { name: name(entry.name, `${at}.name`), query };
  });
}

/** `drill.recallThreshold`: a fraction between 0 and 1. */
export function fraction(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new Error(`"${String(raw)}" is not a number from 0 to 1`);
  return n;
}
