/**
 * Semantic probes of a Neo4j database (docs/consistency.md): at backup time, the node count per
 * label, the relationship count per type and the results of the configured read-only Cypher
 * probes (`drill.neo4jQueries`); after a restore and in `verify --deep` they must be equal.
 * Results are kept small: a probe's rows are stored as-is up to 2 KB, else as a sha256.
 */
import { createHash } from 'node:crypto';
import type { DrillConfig } from '../../config/schema.js';
import { VerificationError } from '../../core/errors.js';
import { type BoltOptions, boltError, connectBolt } from './neo4j-bolt.js';

/** What the manifest records (details.probes of a Neo4j artifact). */
export interface Neo4jProbes {
  labels: Record<string, number>;
  types: Record<string, number>;
  queries: { name: string; rows: number; result?: string; sha256?: string }[];
}

const SMALL = 2048;

/** Rows as canonical JSON, sorted (a probe without ORDER BY returns rows in any order). */
function canonical(rows: Record<string, unknown>[]): string {
  const plain = (v: unknown): unknown => {
    if (v && typeof v === 'object' && 'toNumber' in v && 'low' in v) return String(v);
    if (Array.isArray(v)) return v.map(plain);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      const props = 'properties' in o && 'elementId' in o ? o.properties : o;
      return Object.fromEntries(
        Object.keys(props as object)
          .sort()
          .map((k) => [k, plain((props as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(rows.map((r) => JSON.stringify(plain(r))).sort());
}

async function read(bolt: BoltOptions, queries: DrillConfig['neo4jQueries']): Promise<Neo4jProbes> {
  const { neo4j, driver } = await connectBolt(bolt);
  const run = async (op: string, q: string) => {
    try {
      const res = await driver.executeQuery(q, {}, { database: bolt.database, routing: neo4j.routing.READ });
      return res.records.map((r) => r.toObject() as Record<string, unknown>);
    } catch (err) {
      throw boltError(bolt, op, err);
    }
  };
  try {
    const counts = async (op: string, q: string) =>
      Object.fromEntries(
        (await run(op, q))
          .map((r) => [String(r.k), Number(String(r.c))] as const)
          .sort(([a], [b]) => a.localeCompare(b)),
      );
    const labels = await counts(
      'count nodes per label',
      'MATCH (n) UNWIND labels(n) AS k RETURN k, count(*) AS c',
    );
    const types = await counts(
      'count relationships per type',
      'MATCH ()-[r]->() RETURN type(r) AS k, count(*) AS c',
    );
    const out: Neo4jProbes['queries'] = [];
    for (const q of queries) {
      const rows = await run(`probe "${q.name}"`, q.query);
      const text = canonical(rows);
      out.push(
        text.length <= SMALL
          ? { name: q.name, rows: rows.length, result: text }
          : { name: q.name, rows: rows.length, sha256: createHash('sha256').update(text).digest('hex') },
      );
    }
    return { labels, types, queries: out };
  } finally {
    await driver.close();
  }
}

/** Records the probes of the running database (before its dump or export). */
export const recordNeo4jProbes = read;

/** `Paper: 30 → 28, CITES: 40 → none` for counts that differ. */
function countDiff(want: Record<string, number>, got: Record<string, number>): string[] {
  const keys = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
  return keys
    .filter((k) => want[k] !== got[k])
    .map((k) => `${k}: ${want[k] ?? 'none'} → ${got[k] ?? 'none'}`);
}

/** Re-runs the probes on a restored database; throws VerificationError naming the probe that differs. */
export async function checkNeo4jProbes(
  bolt: BoltOptions,
  probes: Neo4jProbes,
  queries: DrillConfig['neo4jQueries'],
): Promise<number> {
  const recorded = probes.queries.map((q) => ({
    name: q.name,
    query: queries.find((c) => c.name === q.name)?.query,
  }));
  const runnable = recorded.filter((q): q is { name: string; query: string } => q.query !== undefined);
  const now = await read(bolt, runnable);
  const db = bolt.database;
  const fail = (probe: string, detail: string) =>
    new VerificationError(
      `neo4j "${db}": probe "${probe}" differs from the backup's: ${detail}`,
      'the restored graph does not answer as the backed-up one did',
    );
  const labels = countDiff(probes.labels, now.labels);
  if (labels.length) throw fail('nodes per label', labels.join(', '));
  const types = countDiff(probes.types, now.types);
  if (types.length) throw fail('relationships per type', types.join(', '));
  for (const q of probes.queries) {
    const got = now.queries.find((x) => x.name === q.name);
    if (!got) continue; // the probe is no longer configured: nothing to re-run it with
    if (got.rows !== q.rows || got.result !== q.result || got.sha256 !== q.sha256)
      throw fail(
        q.name,
        `${q.rows} row(s) recorded, ${got.rows} now${q.result && got.result ? ` (${q.result} → ${got.result})` : ''}`,
      );
  }
  return 2 + now.queries.length;
}
