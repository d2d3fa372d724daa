/**
 * The Bolt side of the Neo4j target: version, exact counts, a record sample, and waiting for
 * the server to answer after a start. The driver is loaded lazily (so `qnb --help` does not
 * load it); the password reaches Neo4j only through the driver, never argv.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJson } from '../../core/canonical-json.js';
import { InterruptedError, QnbError } from '../../core/errors.js';
import type { SampleRecord } from '../../core/manifest.js';

/** Bolt connection settings. */
export interface BoltOptions {
  uri: string;
  user: string;
  password: string | undefined;
  database: string;
}

/** What a snapshot of the graph's size looks like. */
export interface GraphCounts {
  nodes: number;
  relationships: number;
}

/** A narrow Bolt client: only what qnb asks of Neo4j. */
export interface Neo4jBolt {
  version(): Promise<string>;
  counts(): Promise<GraphCounts>;
  /** Hashes of the first `n` nodes and relationships by element order (labels/type + properties). */
  sample(n: number): Promise<SampleRecord[]>;
  /** Re-reads the sampled records and returns the ids that differ. */
  compareSample(expected: SampleRecord[]): Promise<string[]>;
  close(): Promise<void>;
}

/** A QnbError for a driver error: wrong password, server down, unknown database, or the server's message. */
export function boltError(opts: BoltOptions, op: string, err: unknown): QnbError {
  if (err instanceof QnbError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? '';
  if (/Unauthorized|AuthenticationRateLimit|Security/.test(code)) {
    return new QnbError('E_AUTH', `neo4j ${opts.uri}: ${op}: authentication failed for user "${opts.user}"`, {
      hint: 'check NEO4J_USER and NEO4J_PASSWORD',
    });
  }
  if (
    code === 'ServiceUnavailable' ||
    code === 'SessionExpired' ||
    /ECONNREFUSED|connect/i.test(e.message ?? '')
  ) {
    return new QnbError('E_CONNECT', `neo4j ${opts.uri}: ${op}: cannot reach the server over Bolt`, {
      hint: 'is Neo4j running? check NEO4J_URI',
      retryable: true,
    });
  }
  if (/DatabaseNotFound/.test(code)) {
    return new QnbError('E_NOT_FOUND', `neo4j ${opts.uri}: database "${opts.database}" not found`, {
      hint: 'check NEO4J_DATABASE',
    });
  }
  return new QnbError('E_SERVER', `neo4j ${opts.uri}: ${op}: ${(e.message ?? String(err)).split('\n')[0]}`);
}

/** Plain JS value of a driver value (Integers exact as strings when large, temporal/spatial via toString). */
function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v).toString('base64') };
  if (typeof v === 'object') {
    const o = v as { low?: number; high?: number; toString(): string; constructor?: { name?: string } };
    if (typeof o.low === 'number' && typeof o.high === 'number') return { $int: o.toString() };
    const name = o.constructor?.name;
    if (name && name !== 'Object') return { [`$${name}`]: o.toString() };
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** sha256 of one record for the manifest's sample (`kind` node/rel, labels or type, properties). */
export function recordHash(kind: string, labels: unknown, props: unknown): string {
  return createHash('sha256')
    .update(canonicalJson({ kind, labels: plain(labels), props: plain(props) }))
    .digest('hex');
}

const SAMPLE_NODES =
  'MATCH (n) WITH n ORDER BY elementId(n) LIMIT $n RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props';
const SAMPLE_RELS =
  'MATCH ()-[r]->() WITH r ORDER BY elementId(r) LIMIT $n RETURN elementId(r) AS id, type(r) AS labels, properties(r) AS props';

/** A driver for `opts` and the driver module (lazily loaded), for sessions the narrow client lacks. */
export async function connectBolt(opts: BoltOptions) {
  const neo4j = (await import('neo4j-driver')).default;
  const driver = neo4j.driver(opts.uri, neo4j.auth.basic(opts.user, opts.password ?? ''), {
    connectionTimeout: 10_000,
    maxConnectionPoolSize: 2,
    logging: { level: 'error', logger: () => {} },
  });
  return { neo4j, driver };
}

/** Opens a Bolt client (lazily loads neo4j-driver). */
export async function openBolt(opts: BoltOptions): Promise<Neo4jBolt> {
  const { neo4j, driver } = await connectBolt(opts);
  const run = async <T>(op: string, query: string, params: Record<string, unknown> = {}) => {
    try {
      return (
        await driver.executeQuery(query, params, { database: opts.database, routing: neo4j.routing.READ })
      ).records as unknown as {
        get(k: string): T;
      }[];
    } catch (err) {
      throw boltError(opts, op, err);
    }
  };
  const sampleQuery = async (n: number) => {
    const nodes = await run<unknown>('sample nodes', SAMPLE_NODES, { n: neo4j.int(n) });
    const rels = await run<unknown>('sample relationships', SAMPLE_RELS, { n: neo4j.int(n) });
    return [
      ...nodes.map((r) => ({
        id: `node:${String(r.get('id'))}`,
        hash: recordHash('node', r.get('labels'), r.get('props')),
      })),
      ...rels.map((r) => ({
        id: `rel:${String(r.get('id'))}`,
        hash: recordHash('rel', r.get('labels'), r.get('props')),
      })),
    ];
  };
  return {
    async version() {
      const rows = await run<string>(
        'read server version',
        'CALL dbms.components() YIELD versions RETURN versions[0] AS v',
      );
      return String(rows[0]?.get('v') ?? 'unknown');
    },
    async counts() {
      const n = await run<{ toNumber(): number }>('count nodes', 'MATCH (n) RETURN count(n) AS c');
      const r = await run<{ toNumber(): number }>(
        'count relationships',
        'MATCH ()-[r]->() RETURN count(r) AS c',
      );
      return { nodes: n[0]!.get('c').toNumber(), relationships: r[0]!.get('c').toNumber() };
    },
    sample: sampleQuery,
    async compareSample(expected) {
      // element ids are not stable across dump/load, so compare the multiset of hashes
      const actual = new Set((await sampleQuery(Math.max(expected.length, 1))).map((s) => s.hash));
      return expected.filter((s) => !actual.has(s.hash)).map((s) => String(s.id));
    },
    close: () => driver.close(),
  };
}

/** Waits until Bolt answers a query, up to `timeoutMs`. */
export async function waitForBolt(opts: BoltOptions, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const bolt = await openBolt(opts);
    try {
      await bolt.counts();
      return;
    } catch (err) {
      last = err;
      if (err instanceof QnbError && err.code === 'E_AUTH') throw err;
    } finally {
      await bolt.close().catch(() => {});
    }
    // waiting for the server must not be cut short by SIGINT: it is part of the cleanup; a short
    // pause, since every second here is a second of downtime (bench/RESULTS.md, Neo4j dump)
    await sleep(250);
    if (signal?.aborted && Date.now() > deadline) throw new InterruptedError();
  }
  throw new QnbError(
    'E_CONNECT',
    `neo4j ${opts.uri}: the server did not answer over Bolt within ${Math.round(timeoutMs / 1000)} s after start`,
    {
      cause: last,
      hint: 'check the Neo4j log (logs/neo4j.log or `docker logs`)',
    },
  );
}
