/**
 * Restores Neo4j. A dump: stop, `neo4j-admin database load --from-stdin
 * --overwrite-destination=true`, start, wait for Bolt, verify exact counts and sampled records.
 * If the load fails and a safety dump exists, that dump is loaded back before starting, and
 * Neo4j is checked to hold what it held before (neo4j-rollback.ts).
 * An export: imported over Bolt while Neo4j runs (neo4j-import.ts), then verified the same way.
 */

import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { QnbError, SafetyBackupError, toQnbError, VerificationError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { hashingCounter } from '../../core/transfer.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import { type DumpFacts, dumpInto, type Neo4jBackupOptions, withNeo4jStopped } from './neo4j-backup.js';
import { type GraphCounts, openBolt } from './neo4j-bolt.js';
import { changedAroundDump, countsProblem, expectedText, skippedNote } from './neo4j-count-range.js';
import { checkDumpHeader } from './neo4j-dump-file.js';
import { clearHalfLoaded } from './neo4j-guardian.js';
import { importExport } from './neo4j-import.js';
import { updateStoppedMarker } from './neo4j-marker.js';
import { checkNeo4jProbes, type Neo4jProbes } from './neo4j-probes.js';
import { checkRolledBack, loadSafetyBack, namingSafety, type SafetyBackup } from './neo4j-rollback.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

/** What a Neo4j restore did and found. */
export interface Neo4jRestoreReport {
  database: string;
  from: string;
  /** dump: stop, neo4j-admin load, start; export: imported over Bolt while Neo4j ran. */
  mode: 'dump' | 'export';
  nodes: number;
  relationships: number;
  /** What the manifest recorded: a number, or "10–12" when the graph changed around the dump. */
  expected: { nodes?: number | string; relationships?: number | string };
  sampleChecked: number;
  /** Why checks were skipped (the graph changed around the dump: sample and probes not compared). */
  note?: string;
  /** Semantic probes (per-label and per-type counts, drill.neo4jQueries) found equal. */
  probesChecked?: number;
  /** The load's outage: from the stop's start to Bolt answering again. */
  downtimeMs: number;
  /** The restore's outage and what it held (the safety dump, when there was one, shares the load's stop). */
  outages?: { what: 'load' | 'safety dump and load'; ms: number }[];
  durationMs: number;
  /** Indexes and constraints replayed (export). */
  schema?: number;
}

/** A load refused before neo4j-admin started: the database is as it was, nothing to roll back. */
class NothingLoadedError extends QnbError {
  constructor(message: string, hint: string) {
    super('E_IO', message, { hint });
  }
}

/** Streams a dump file into `neo4j-admin database load --from-stdin`. */
async function loadDump(
  runtime: Neo4jRuntime,
  db: string,
  path: string,
  ctx: TargetContext,
  label: string,
  mark: { backupDir: string; safety?: string; rollback?: boolean },
): Promise<void> {
  const { safety } = mark;
  // a kill from here on may leave a half-loaded store: the marker says so (neo4j-guardian.ts)
  try {
    updateStoppedMarker(
      {
        loading: {
          database: db,
          file: label,
          ...(safety ? { safety } : {}),
          since: new Date().toISOString(),
        },
      },
      { keepOnFailure: Boolean(mark.rollback) },
    );
  } catch (err) {
    // the backups folder is full or read-only. A first load is refused with nothing loaded; the
    // load of a safety dump after a failed one goes on: the store may be half-loaded already,
    // and starting Neo4j on it would be worse than a marker that lags
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    if (!mark.rollback)
      throw new NothingLoadedError(
        `neo4j "${db}": cannot record the load in the backups folder (${why}); nothing was loaded`,
        'free space in the backups folder (`qnb prune`), then run the restore again',
      );
    ctx.reporter.emit({
      type: 'warning',
      target: 'neo4j',
      name: db,
      message: `cannot record the load in the backups folder (${why}); loading ${label} anyway`,
    });
  }
  const admin = runtime.admin(['database', 'load', db, '--from-stdin', '--overwrite-destination=true'], {
    stdin: true,
  });
  ctx.reporter.emit({ type: 'transfer-start', direction: 'upload', target: 'neo4j', name: db, file: label });
  const t0 = Date.now();
  const counter = hashingCounter((bytes) =>
    ctx.reporter.emit({ type: 'transfer-progress', direction: 'upload', name: db, bytes }),
  );
  try {
    await Promise.all([
      pipeline(createReadStream(path, { highWaterMark: 1 << 20 }), counter, admin.stdin),
      admin.done,
    ]);
  } catch (err) {
    admin.kill();
    await admin.done.catch(() => {});
    throw err;
  }
  // the store is whole again (this dump): no longer half-loaded. Best effort: a marker that still
  // says "loading" makes a recovery check the store before it starts Neo4j, nothing worse
  try {
    updateStoppedMarker({ loading: undefined });
    await clearHalfLoaded(mark.backupDir);
  } catch (err) {
    ctx.reporter.emit({
      type: 'warning',
      target: 'neo4j',
      name: db,
      message: `loaded, but the backups folder could not record it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    });
  }
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name: db,
    bytes: counter.result().bytes,
    durationMs: Date.now() - t0,
  });
}

/**
 * The safety dump a dump restore takes itself, once Neo4j is stopped for the load: one outage,
 * and nothing written between the safety dump and the load (which would be lost with no copy).
 */
export interface SafetyAtLoad {
  sink: ArtifactSink;
  /** Version, counts, sample and probes, read over Bolt before the stop. */
  facts: DumpFacts;
  /** Awaited once the safety dump is committed, before the load (e.g. finishes its set). */
  taken: (record: ArtifactRecord) => Promise<SafetyBackup>;
}

/** Takes the safety dump while Neo4j is stopped; any failure is a `SafetyBackupError` (nothing loaded). */
async function takeSafetyDump(
  runtime: Neo4jRuntime,
  ctx: TargetContext,
  opts: Neo4jBackupOptions,
  at: SafetyAtLoad,
): Promise<SafetyBackup> {
  const db = opts.bolt.database;
  ctx.reporter.emit({
    type: 'step',
    target: 'neo4j',
    name: db,
    message: `safety dump of "${db}" before overwriting it (Neo4j stays stopped for the load)`,
  });
  try {
    const record = await dumpInto(runtime, at.sink, ctx, opts, at.facts, async (work) => ({
      result: await work(),
    }));
    return await at.taken(record);
  } catch (err) {
    throw new SafetyBackupError(toQnbError(err, ctx.signal));
  }
}

/**
 * Restores `artifact` (file at `path`). A file that is not a dump is refused before Neo4j is
 * touched. With `safetyAtLoad`, a safety dump is taken within the load's stop; if the load then
 * fails, it is loaded back and Neo4j started (neo4j-rollback.ts).
 */
export async function restoreNeo4jDump(
  runtime: Neo4jRuntime,
  artifact: ArtifactRecord,
  path: string,
  ctx: TargetContext,
  opts: Neo4jBackupOptions & { safetyAtLoad?: SafetyAtLoad },
): Promise<Neo4jRestoreReport> {
  const started = Date.now();
  const db = opts.bolt.database;
  await checkDumpHeader(path, artifact.file);
  let failure: unknown;
  let safety: SafetyBackup | undefined;
  const { downtime } = await withNeo4jStopped(runtime, opts, ctx, async () => {
    if (opts.safetyAtLoad) {
      safety = await takeSafetyDump(runtime, ctx, opts, opts.safetyAtLoad);
      ctx.reporter.emit({
        type: 'step',
        target: 'neo4j',
        name: db,
        message: `loading ${artifact.file} into "${db}"`,
      });
    }
    // the marker names the safety dump while a load is in flight (half-loaded notice, neo4j-guardian.ts)
    const mark = { backupDir: opts.backupDir, ...(safety ? { safety: safety.file } : {}) };
    try {
      await loadDump(runtime, db, path, ctx, artifact.file, mark);
    } catch (err) {
      if (!safety || err instanceof NothingLoadedError) throw err;
      failure = err;
      await loadSafetyBack(safety, db, ctx, err, (file, label) =>
        loadDump(runtime, db, file, ctx, label, { ...mark, rollback: true }),
      );
    }
  });
  if (failure && safety) throw await checkRolledBack(opts.bolt, safety, artifact.file, failure);
  let bolt: Awaited<ReturnType<typeof openBolt>> | undefined;
  try {
    bolt = await openBolt(opts.bolt);
    const counts = await bolt.counts();
    checkRestoredCounts(db, counts, artifact);
    // the graph changed around the dump: its sample and probes were read from another graph
    const note = skippedNote(artifact);
    if (note) ctx.reporter.emit({ type: 'step', target: 'neo4j', name: db, message: note });
    const probesChecked = note ? 0 : await checkProbesOf(artifact, opts);
    const sample = note ? [] : (artifact.sample ?? []);
    const bad = sample.length ? await bolt.compareSample(sample) : [];
    if (bad.length)
      throw new VerificationError(`neo4j "${db}": sampled records differ after restore: ${bad.join(', ')}`);
    return {
      database: db,
      from: artifact.file,
      mode: 'dump',
      nodes: counts.nodes,
      relationships: counts.relationships,
      expected: expectedOf(artifact),
      sampleChecked: sample.length,
      ...(note ? { note } : {}),
      ...(probesChecked ? { probesChecked } : {}),
      downtimeMs: downtime.ms,
      outages: [{ what: opts.safetyAtLoad ? 'safety dump and load' : 'load', ms: downtime.ms }],
      durationMs: Date.now() - started,
    };
  } catch (err) {
    // loaded over data: the error says where what was there before is, and how to put it back
    throw namingSafety(err, safety, db);
  } finally {
    await bolt?.close();
  }
}

/** What the manifest recorded, for the report: exact counts as numbers, ranges as "10–12". */
const expectedOf = (a: ArtifactRecord): Neo4jRestoreReport['expected'] =>
  changedAroundDump(a)
    ? { nodes: expectedText(a, 'nodes'), relationships: expectedText(a, 'relationships') }
    : { nodes: a.counts.nodes, relationships: a.counts.relationships };

/** Re-runs the probes recorded with `artifact`, if any; returns how many were equal. */
export async function checkProbesOf(artifact: ArtifactRecord, opts: Neo4jBackupOptions): Promise<number> {
  const probes = artifact.details?.probes as Neo4jProbes | undefined;
  return probes ? checkNeo4jProbes(opts.bolt, probes, opts.probeQueries ?? []) : 0;
}

/**
 * Throws when the restored counts are not what the manifest recorded (if it recorded any): the
 * exact counts, or within the range recorded when the graph changed around the dump.
 */
function checkRestoredCounts(db: string, counts: GraphCounts, artifact: ArtifactRecord): void {
  const problem = countsProblem(counts, artifact);
  if (problem) {
    throw new VerificationError(
      `neo4j "${db}": ${problem}`,
      `the ${artifact.kind === 'neo4j-export' ? 'export' : 'dump'} does not hold what was recorded; try an older backup`,
    );
  }
}

/**
 * Imports an export file over Bolt into the running database (no downtime), then verifies exact
 * counts against the manifest and the sampled records. When an import fails after it touched
 * the database, the safety export is imported back and checked (neo4j-rollback.ts).
 */
export async function restoreNeo4jExport(
  artifact: ArtifactRecord,
  path: string,
  ctx: TargetContext,
  opts: Neo4jBackupOptions & { safety?: SafetyBackup },
): Promise<Neo4jRestoreReport> {
  const started = Date.now();
  const db = opts.bolt.database;
  let imported: Awaited<ReturnType<typeof importExport>>;
  let touched = false;
  try {
    imported = await importExport(opts.bolt, path, artifact.file, ctx, {
      sample: artifact.sample ?? [],
      onWrite: () => {
        touched = true;
      },
    });
  } catch (err) {
    if (!touched || !opts.safety) throw err;
    // the import cleared the database first: put the safety export back the same way
    const safety = opts.safety;
    await loadSafetyBack(safety, db, ctx, err, async (file, label) => {
      await importExport(opts.bolt, file, label, ctx, { sample: [] });
    });
    throw await checkRolledBack(opts.bolt, safety, artifact.file, err);
  }
  await clearHalfLoaded(opts.backupDir);
  let bolt: Awaited<ReturnType<typeof openBolt>> | undefined;
  try {
    bolt = await openBolt(opts.bolt);
    const counts = await bolt.counts();
    checkRestoredCounts(db, counts, artifact);
    const probesChecked = await checkProbesOf(artifact, opts);
    if (imported.sampleBad.length)
      throw new VerificationError(
        `neo4j "${db}": sampled records differ after restore: ${imported.sampleBad.join(', ')}`,
      );
    return {
      database: db,
      from: artifact.file,
      mode: 'export',
      nodes: counts.nodes,
      relationships: counts.relationships,
      expected: { nodes: artifact.counts.nodes, relationships: artifact.counts.relationships },
      sampleChecked: imported.sampleChecked,
      ...(probesChecked ? { probesChecked } : {}),
      schema: imported.schema,
      downtimeMs: 0,
      durationMs: Date.now() - started,
    };
  } catch (err) {
    throw namingSafety(err, opts.safety, db);
  } finally {
    await bolt?.close();
  }
}
