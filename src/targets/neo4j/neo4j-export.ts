/**
 * Online backup of Neo4j (`NEO4J_MODE=export`): Neo4j keeps running. Everything is read over Bolt
 * in ONE read transaction (element ids are only stable inside one) and streamed — the driver pulls
 * records in batches as the gzip file is written — into `neo4j/<db>-YYYYMMDD-HHMMSS.export.jsonl.gz`,
 * with sha256 inline, fsync and rename through the same sink as dumps. Format: docs/neo4j.md.
 */

import { Readable } from 'node:stream';
import { throwIfAborted } from '../../core/errors.js';
import type { ArtifactRecord, SampleRecord } from '../../core/manifest.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import {
  type Neo4jBackupOptions,
  neo4jRecord,
  redactedUri,
  streamNeo4jFile,
  withNeo4jFile,
} from './neo4j-backup.js';
import { boltError, connectBolt, type GraphCounts, recordHash } from './neo4j-bolt.js';
import {
  EXPORT_EXT,
  EXPORT_FORMAT,
  EXPORT_VERSION,
  type ExportHeader,
  type ExportLine,
  type ExportSchema,
} from './neo4j-export-format.js';
import { createNodeIdSet } from './neo4j-node-ids.js';
import { recordNeo4jProbes } from './neo4j-probes.js';
import { createValueCodec } from './neo4j-value-codec.js';

const NODES = 'MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props';
const RELS =
  'MATCH ()-[r]->() RETURN elementId(r) AS id, type(r) AS type, elementId(startNode(r)) AS s, elementId(endNode(r)) AS e, properties(r) AS props';
const INDEXES =
  "SHOW INDEXES YIELD name, type, entityType, labelsOrTypes, properties, owningConstraint, createStatement WHERE type <> 'LOOKUP' AND owningConstraint IS NULL RETURN *";
const CONSTRAINTS =
  'SHOW CONSTRAINTS YIELD name, type, entityType, labelsOrTypes, properties, createStatement RETURN *';
/** Lines are handed to gzip in chunks of about this many characters. */
const CHUNK = 1 << 16;

type Row = { get(key: string): unknown };
type Tx = { run(query: string): AsyncIterable<Row> & Promise<{ records: Row[] }> };

/** What the export saw, filled while the file is written. */
interface ExportStats {
  version: string;
  before?: GraphCounts;
  after?: GraphCounts;
  written: GraphCounts;
  /** Relationships left out: an end node was created after the node scan (not in the file). */
  skipped: number;
  schema: number;
  sample: SampleRecord[];
}

async function countsIn(tx: Tx): Promise<GraphCounts> {
  const count = async (q: string) => Number(String((await tx.run(q)).records[0]?.get('c') ?? 0));
  return {
    nodes: await count('MATCH (n) RETURN count(n) AS c'),
    relationships: await count('MATCH ()-[r]->() RETURN count(r) AS c'),
  };
}

async function schemaIn(tx: Tx): Promise<ExportSchema[]> {
  const rows = async (kind: 'index' | 'constraint', q: string) =>
    (await tx.run(q)).records.map((r) => ({
      kind,
      name: String(r.get('name')),
      type: String(r.get('type')),
      entityType: String(r.get('entityType')),
      labelsOrTypes: (r.get('labelsOrTypes') as string[] | null) ?? null,
      properties: (r.get('properties') as string[] | null) ?? null,
      createStatement: String(r.get('createStatement')),
    }));
  // constraints first: replaying them creates their own indexes
  return [...(await rows('constraint', CONSTRAINTS)), ...(await rows('index', INDEXES))];
}

/** Per-call knobs of an export. */
export interface Neo4jExportOptions extends Neo4jBackupOptions {
  /** Test seam: awaited between the node scan and the relationship scan. */
  afterNodeScan?: () => Promise<void>;
}

/** The file's text, in chunks, read in one transaction. */
async function* exportText(
  opts: Neo4jExportOptions,
  stats: ExportStats,
  now: () => Date,
): AsyncGenerator<string> {
  const { bolt, sampleSize = 3 } = opts;
  const { neo4j, driver } = await connectBolt(bolt);
  const codec = createValueCodec(neo4j);
  const session = driver.session({
    database: bolt.database,
    defaultAccessMode: neo4j.session.READ,
    fetchSize: 1000,
  });
  let buf = '';
  const add = (line: ExportLine) => {
    buf += `${JSON.stringify(line)}\n`;
  };
  const take = () => {
    const out = buf;
    buf = '';
    return out;
  };
  try {
    const tx = session.beginTransaction() as unknown as Tx & { rollback(): Promise<void> };
    try {
      const v = await tx.run('CALL dbms.components() YIELD versions RETURN versions[0] AS v');
      stats.version = String(v.records[0]?.get('v') ?? 'unknown');
      stats.before = await countsIn(tx);
      const schema = await schemaIn(tx);
      const header: ExportHeader = {
        kind: 'header',
        format: EXPORT_FORMAT,
        version: EXPORT_VERSION,
        neo4jVersion: stats.version,
        database: bolt.database,
        createdAt: now().toISOString(),
        counts: stats.before,
      };
      add(header);
      for (const s of schema) add(s);
      stats.schema = schema.length;
      // reads are read-committed: the relationship scan also sees relationships created after the
      // node scan, whose end nodes may not be in the file; those are left out, never written dangling
      const ids = createNodeIdSet();
      for await (const r of tx.run(NODES)) {
        const labels = r.get('labels') as string[];
        const props = r.get('props') as Record<string, unknown>;
        const id = String(r.get('id'));
        ids.add(id);
        add({ kind: 'node', id, labels, properties: codec.encodeProperties(props) });
        if (stats.written.nodes++ < sampleSize)
          stats.sample.push({ id: `node:${id}`, hash: recordHash('node', [...labels].sort(), props) });
        if (buf.length >= CHUNK) yield take();
      }
      await opts.afterNodeScan?.();
      for await (const r of tx.run(RELS)) {
        const start = String(r.get('s'));
        const end = String(r.get('e'));
        if (!ids.has(start) || !ids.has(end)) {
          stats.skipped++;
          continue;
        }
        const props = r.get('props') as Record<string, unknown>;
        const id = String(r.get('id'));
        const type = String(r.get('type'));
        add({
          kind: 'relationship',
          id,
          type,
          start,
          end,
          properties: codec.encodeProperties(props),
        });
        if (stats.written.relationships++ < sampleSize)
          stats.sample.push({ id: `rel:${id}`, hash: recordHash('rel', type, props) });
        if (buf.length >= CHUNK) yield take();
      }
      stats.after = await countsIn(tx);
      add({ kind: 'end', counts: { ...stats.written } });
      yield take();
    } finally {
      await tx.rollback().catch(() => {});
    }
  } catch (err) {
    throw boltError(bolt, 'export', err);
  } finally {
    await session.close().catch(() => {});
    await driver.close().catch(() => {});
  }
}

/** Exports the database into the sink over Bolt, without stopping it. Returns the committed record. */
export async function backupNeo4jExport(
  sink: ArtifactSink,
  ctx: TargetContext,
  opts: Neo4jExportOptions,
): Promise<ArtifactRecord> {
  const db = opts.bolt.database;
  const startedAt = ctx.now();
  throwIfAborted(ctx.signal);
  const stats: ExportStats = {
    version: 'unknown',
    written: { nodes: 0, relationships: 0 },
    skipped: 0,
    schema: 0,
    sample: [],
  };
  // recorded before the export: a graph changing meanwhile is reported (changedDuringExport)
  const probes = await recordNeo4jProbes(opts.bolt, opts.probeQueries ?? []);
  return withNeo4jFile(sink, db, EXPORT_EXT, async (reserved) => {
    const source = Readable.from(exportText(opts, stats, ctx.now), {
      objectMode: false,
    });
    const got = await streamNeo4jFile(source, reserved, db, ctx, true);
    const { before, after, written, skipped } = stats;
    const changed =
      skipped > 0 ||
      [before, after].some((c) => c?.nodes !== written.nodes || c?.relationships !== written.relationships);
    const left = skipped
      ? `; ${skipped} relationship(s) created after the node scan, to nodes not in the file, were left out`
      : '';
    if (changed)
      ctx.reporter.emit({
        type: 'warning',
        target: 'neo4j',
        name: db,
        message: `the graph changed while it was exported (${before?.nodes} → ${after?.nodes} nodes, ${before?.relationships} → ${after?.relationships} relationships; the file holds ${written.nodes} / ${written.relationships}${left}); Neo4j reads are read-committed, so the file may mix states`,
      });
    return neo4jRecord('neo4j-export', db, reserved, got, startedAt, ctx, {
      serverVersion: stats.version,
      counts: { nodes: written.nodes, relationships: written.relationships },
      sample: stats.sample,
      details: {
        mode: 'export',
        probes,
        format: `${EXPORT_FORMAT}/${EXPORT_VERSION}`,
        schema: stats.schema,
        changedDuringExport: changed,
        uri: redactedUri(opts.bolt),
      },
    });
  });
}
