/**
 * Imports an export file over Bolt into a running database: check the whole file first, drop the
 * schema and clear the data in batches, create nodes and relationships in batches (UNWIND; nodes
 * carry a temporary label and id property, indexed, so relationships find their endpoints), check
 * the manifest's sampled records, remove the temporary label, property and index, then replay the
 * schema and wait for the indexes. Memory stays bounded: one batch per label set / type at a time.
 */
import type { SampleRecord } from '../../core/manifest.js';
import type { TargetContext } from '../target.js';
import { type BoltOptions, boltError, connectBolt, type GraphCounts, recordHash } from './neo4j-bolt.js';
import { checkExportFile, type ExportSummary, readExportLines } from './neo4j-export-format.js';
import { createValueCodec } from './neo4j-value-codec.js';

/** Temporary label and property of imported nodes; removed when the import is done. */
const TMP_LABEL = '__QnbImport';
const TMP_ID = '__qnbImportId';
const TMP_INDEX = 'qnb_import_id';
/** Rows per write transaction. */
const BATCH = 1000;
/** Rows held across all label sets / types before every batch is sent (bounds memory). */
const MAX_PENDING = 10 * BATCH;
/** Rows deleted / cleaned per transaction. */
const CLEAR_BATCH = 10_000;

/** What an import did. */
export interface ImportResult {
  counts: GraphCounts;
  /** Indexes and constraints replayed. */
  schema: number;
  /** Sampled record ids (from the manifest) that differ after the import. */
  sampleBad: string[];
  sampleChecked: number;
  neo4jVersion: string;
}

const q = (name: string) => `\`${name.replace(/`/g, '``')}\``;

type Driver = Awaited<ReturnType<typeof connectBolt>>['driver'];

/** Runs `query` until it returns c = 0 (batched deletes and cleanups). */
async function untilNone(driver: Driver, db: string, query: string): Promise<void> {
  for (;;) {
    const r = await driver.executeQuery(query, {}, { database: db });
    if (Number(String(r.records[0]?.get('c') ?? 0)) === 0) return;
  }
}

/** Drops constraints and indexes (not LOOKUP ones), then deletes everything in batches. */
async function clearDatabase(driver: Driver, db: string): Promise<void> {
  const cons = await driver.executeQuery('SHOW CONSTRAINTS YIELD name RETURN name', {}, { database: db });
  for (const r of cons.records)
    await driver.executeQuery(`DROP CONSTRAINT ${q(String(r.get('name')))} IF EXISTS`, {}, { database: db });
  const idx = await driver.executeQuery(
    "SHOW INDEXES YIELD name, type, owningConstraint WHERE type <> 'LOOKUP' AND owningConstraint IS NULL RETURN name",
    {},
    { database: db },
  );
  for (const r of idx.records)
    await driver.executeQuery(`DROP INDEX ${q(String(r.get('name')))} IF EXISTS`, {}, { database: db });
  await untilNone(driver, db, `MATCH ()-[r]->() WITH r LIMIT ${CLEAR_BATCH} DELETE r RETURN count(*) AS c`);
  await untilNone(driver, db, `MATCH (n) WITH n LIMIT ${CLEAR_BATCH} DETACH DELETE n RETURN count(*) AS c`);
}

/** Streams nodes then relationships from the file into the database, in batches. */
async function loadGraph(
  driver: Driver,
  db: string,
  path: string,
  label: string,
  codec: ReturnType<typeof createValueCodec>,
  onProgress: (done: GraphCounts) => void,
): Promise<GraphCounts> {
  const done = { nodes: 0, relationships: 0 };
  const nodeBatches = new Map<string, { labels: string[]; rows: unknown[] }>();
  const relBatches = new Map<string, unknown[]>();
  const flushNodes = async (key: string) => {
    const b = nodeBatches.get(key);
    if (!b?.rows.length) return;
    const labels = [TMP_LABEL, ...b.labels].map(q).join(':');
    await driver.executeQuery(
      `UNWIND $rows AS row CREATE (n:${labels} {${q(TMP_ID)}: row.id}) SET n += row.props`,
      { rows: b.rows },
      { database: db },
    );
    done.nodes += b.rows.length;
    pending -= b.rows.length;
    b.rows = [];
    onProgress(done);
  };
  const flushRels = async (type: string) => {
    const rows = relBatches.get(type);
    if (!rows?.length) return;
    const r = await driver.executeQuery(
      `UNWIND $rows AS row MATCH (a:${q(TMP_LABEL)} {${q(TMP_ID)}: row.s}) MATCH (b:${q(TMP_LABEL)} {${q(TMP_ID)}: row.e})
       CREATE (a)-[r:${q(type)}]->(b) SET r = row.props RETURN count(r) AS c`,
      { rows },
      { database: db },
    );
    const made = Number(String(r.records[0]?.get('c') ?? 0));
    if (made !== rows.length)
      throw new Error(
        `${rows.length - made} "${type}" relationship(s) reference nodes that are not in ${label}`,
      );
    done.relationships += rows.length;
    pending -= rows.length;
    relBatches.set(type, []);
    onProgress(done);
  };
  const flushAll = async () => {
    for (const key of nodeBatches.keys()) await flushNodes(key);
    for (const type of relBatches.keys()) await flushRels(type);
  };
  let pending = 0;
  let nodesFlushed = false;
  for await (const line of readExportLines(path, label)) {
    if (line.kind === 'node') {
      const key = JSON.stringify(line.labels);
      const b = nodeBatches.get(key) ?? { labels: line.labels, rows: [] };
      nodeBatches.set(key, b);
      b.rows.push({ id: line.id, props: codec.decodeProperties(line.properties) });
      pending++;
      if (b.rows.length >= BATCH) await flushNodes(key);
    } else if (line.kind === 'relationship') {
      if (!nodesFlushed) {
        await flushAll();
        nodesFlushed = true;
      }
      const rows = relBatches.get(line.type) ?? [];
      relBatches.set(line.type, rows);
      rows.push({ s: line.start, e: line.end, props: codec.decodeProperties(line.properties) });
      pending++;
      if (rows.length >= BATCH) await flushRels(line.type);
    }
    // many label sets or types, each with a few rows: send them all rather than hold them
    if (pending >= MAX_PENDING) await flushAll();
  }
  await flushAll();
  return done;
}

/** Re-reads the sampled records through the temporary ids and returns the ids that differ. */
async function checkSample(
  driver: Driver,
  db: string,
  sample: readonly SampleRecord[],
  summary: ExportSummary,
): Promise<string[]> {
  const bad: string[] = [];
  for (const s of sample) {
    const id = String(s.id);
    const hashes: string[] = [];
    if (id.startsWith('node:')) {
      const r = await driver.executeQuery(
        `MATCH (n:${q(TMP_LABEL)} {${q(TMP_ID)}: $id}) RETURN labels(n) AS labels, properties(n) AS props`,
        { id: id.slice(5) },
        { database: db },
      );
      for (const row of r.records) {
        const labels = (row.get('labels') as string[]).filter((l) => l !== TMP_LABEL).sort();
        const { [TMP_ID]: _, ...props } = row.get('props') as Record<string, unknown>;
        hashes.push(recordHash('node', labels, props));
      }
    } else {
      const rel = summary.sampleRels.get(id.slice(4));
      const r = rel
        ? await driver.executeQuery(
            `MATCH (:${q(TMP_LABEL)} {${q(TMP_ID)}: $s})-[r]->(:${q(TMP_LABEL)} {${q(TMP_ID)}: $e}) WHERE type(r) = $t RETURN properties(r) AS props`,
            { s: rel.start, e: rel.end, t: rel.type },
            { database: db },
          )
        : { records: [] };
      for (const row of r.records) hashes.push(recordHash('rel', rel!.type, row.get('props')));
    }
    if (!hashes.includes(s.hash)) bad.push(id);
  }
  return bad;
}

/**
 * Imports `path` into the database of `bolt` (which must be running), replacing what is there
 * (schema included). The whole file is checked first, so a broken file changes nothing. Throws on
 * any failure — the caller says what state the database is in (`onWrite` tells it was touched).
 */
export async function importExport(
  bolt: BoltOptions,
  path: string,
  label: string,
  ctx: TargetContext,
  opts: {
    sample?: readonly SampleRecord[];
    /** Called once the file checked out, just before the database is changed. */
    onWrite?: () => void;
  } = {},
): Promise<ImportResult> {
  const { neo4j, driver } = await connectBolt(bolt);
  const codec = createValueCodec(neo4j);
  const db = bolt.database;
  const step = (message: string) => ctx.reporter.emit({ type: 'step', target: 'neo4j', name: db, message });
  const sample = opts.sample ?? [];
  try {
    step(`checking ${label}`);
    const relIds = new Set(
      sample
        .map((s) => String(s.id))
        .filter((id) => id.startsWith('rel:'))
        .map((id) => id.slice(4)),
    );
    const summary = await checkExportFile(path, label, codec, relIds);
    try {
      opts.onWrite?.();
      step(`clearing "${db}" (schema, relationships, nodes) in batches`);
      await clearDatabase(driver, db);
      await driver.executeQuery(
        `CREATE INDEX ${q(TMP_INDEX)} IF NOT EXISTS FOR (n:${q(TMP_LABEL)}) ON (n.${q(TMP_ID)})`,
        {},
        { database: db },
      );
      await driver.executeQuery(`CALL db.awaitIndex('${TMP_INDEX}', 300)`, {}, { database: db });
      step(`importing ${summary.counts.nodes} nodes and ${summary.counts.relationships} relationships`);
      const t0 = Date.now();
      let shown = t0;
      const counts = await loadGraph(driver, db, path, label, codec, (d) => {
        if (Date.now() - shown < 10_000) return;
        shown = Date.now();
        step(`imported ${d.nodes} nodes, ${d.relationships} relationships so far`);
      });
      step(
        `imported ${counts.nodes} nodes, ${counts.relationships} relationships in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      const sampleBad = sample.length ? await checkSample(driver, db, sample, summary) : [];
      step('removing the temporary import label and index');
      await untilNone(
        driver,
        db,
        `MATCH (n:${q(TMP_LABEL)}) WITH n LIMIT ${CLEAR_BATCH} REMOVE n:${q(TMP_LABEL)} REMOVE n.${q(TMP_ID)} RETURN count(*) AS c`,
      );
      await driver.executeQuery(`DROP INDEX ${q(TMP_INDEX)} IF EXISTS`, {}, { database: db });
      step(`replaying ${summary.schema.length} indexes and constraints`);
      for (const s of summary.schema) {
        try {
          await driver.executeQuery(s.createStatement, {}, { database: db });
        } catch (err) {
          throw new Error(
            `${s.kind} "${s.name}" (${s.createStatement}): ${(err as Error).message.split('\n')[0]}`,
          );
        }
      }
      await driver.executeQuery('CALL db.awaitIndexes(600)', {}, { database: db });
      return {
        counts,
        schema: summary.schema.length,
        sampleBad,
        sampleChecked: sample.length,
        neo4jVersion: summary.header.neo4jVersion,
      };
    } catch (err) {
      throw boltError(bolt, `import of ${label}`, err);
    }
  } finally {
    await driver.close().catch(() => {});
  }
}
