/**
 * Backs up Neo4j with `neo4j-admin database dump` (Community needs the server stopped):
 * record version and exact counts over Bolt, write the "stopped" marker, stop cleanly, let
 * neo4j-admin write the dump file (neo4j-dump-file.ts), and — whatever happens — start Neo4j
 * again, wait for Bolt and report the downtime (guarantee 3); then check the file is a dump.
 * The counts are read again once Bolt answers: a graph that changed between the first read and
 * the stop is recorded as ranges (neo4j-count-range.ts).
 */

import type { Readable } from 'node:stream';
import { withoutUserInfo } from '../../config/redact.js';
import type { DrillConfig } from '../../config/schema.js';
import { joinCleanupError, throwIfAborted } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { type StreamResult, streamToFile } from '../../core/transfer.js';
import type { ArtifactSink, ReservedFile, TargetContext } from '../target.js';
import { type BoltOptions, type GraphCounts, openBolt, waitForBolt } from './neo4j-bolt.js';
import { dumpCounts } from './neo4j-count-range.js';
import { dumpToFile } from './neo4j-dump-file.js';
import { readHalfLoaded, startGuardian } from './neo4j-guardian.js';
import { clearStoppedMarker, writeStoppedMarker } from './neo4j-marker.js';
import { recordNeo4jProbes } from './neo4j-probes.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

/** Settings of one Neo4j backup. */
export interface Neo4jBackupOptions {
  bolt: BoltOptions;
  backupDir: string;
  /** Records sampled per kind (nodes, relationships). @default 3 */
  sampleSize?: number;
  /** Read-only Cypher probes recorded with each backup (drill.neo4jQueries). */
  probeQueries?: DrillConfig['neo4jQueries'];
  /** How long to wait for Bolt after starting. @default 180000 */
  startTimeoutMs?: number;
  /** The environment of the guardian and the processes it starts (config.neo4j.env); unset = qnb's own. */
  env?: NodeJS.ProcessEnv;
}

/** What stop → work → start cost. */
export interface Downtime {
  ms: number;
  restarted: boolean;
}

/**
 * Stops Neo4j, runs `work`, and always starts it again (if it was running) and waits for Bolt,
 * even when `work` throws or the signal fires. The marker covers a crash in between.
 */
export async function withNeo4jStopped<T>(
  runtime: Neo4jRuntime,
  opts: Neo4jBackupOptions,
  ctx: TargetContext,
  work: () => Promise<T>,
): Promise<{ result: T; downtime: Downtime }> {
  // a Neo4j qnb left stopped after an interrupted load counts as running: it is started after
  const wasRunning =
    (await runtime.isRunning()) || (await readHalfLoaded(opts.backupDir))?.loadable === false;
  const marker = await writeStoppedMarker(opts.backupDir, runtime.spec, wasRunning);
  // restarts Neo4j within seconds if this process dies before it does (neo4j-guardian.ts)
  const guardian = wasRunning
    ? startGuardian(opts.backupDir, marker, opts.bolt, ctx.reporter, opts.env)
    : undefined;
  // an outage runs from the stop's start to the first Bolt handshake after the start
  const stoppedAt = Date.now();
  let upAt = stoppedAt;
  let result: T | undefined;
  let failure: unknown;
  try {
    if (wasRunning) {
      ctx.reporter.emit({ type: 'step', target: 'neo4j', message: `stopping Neo4j (${runtime.describe()})` });
      await runtime.stop();
    }
    result = await work();
  } catch (err) {
    failure = err;
  }
  // whatever happened above: start Neo4j again (SIGINT does not cut this short)
  if (wasRunning) {
    try {
      ctx.reporter.emit({ type: 'step', target: 'neo4j', message: 'starting Neo4j again' });
      await runtime.start();
      upAt = await waitForBolt(opts.bolt, opts.startTimeoutMs ?? 180_000);
      ctx.reporter.emit({
        type: 'step',
        target: 'neo4j',
        message: `Neo4j is back; downtime ${((upAt - stoppedAt) / 1000).toFixed(1)} s`,
      });
    } catch (err) {
      // the marker stays, so the next qnb run (or doctor) tries again
      throw failure ? joinCleanupError(failure, err) : err;
    }
  }
  await clearStoppedMarker(opts.backupDir);
  guardian?.end();
  if (failure) throw failure;
  return { result: result as T, downtime: { ms: wasRunning ? upAt - stoppedAt : 0, restarted: wasRunning } };
}

/** Reads version, counts and a sample over Bolt (the server must be running). */
export async function describeGraph(bolt: BoltOptions, sampleSize: number) {
  const client = await openBolt(bolt);
  try {
    return {
      version: await client.version(),
      counts: await client.counts(),
      sample: await client.sample(sampleSize),
    };
  } finally {
    await client.close();
  }
}

/** Streams `source` into the reserved temp file (sha256 inline, fsynced), reporting progress. */
export async function streamNeo4jFile(
  source: Readable,
  reserved: ReservedFile,
  db: string,
  ctx: TargetContext,
  gzip = false,
): Promise<StreamResult> {
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'download',
    target: 'neo4j',
    name: db,
    file: reserved.rel,
  });
  const t0 = Date.now();
  const res = await streamToFile(source, reserved.tempPath, {
    signal: ctx.signal,
    gzip,
    onProgress: (bytes) =>
      ctx.reporter.emit({ type: 'transfer-progress', direction: 'download', name: db, bytes }),
  });
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'download',
    name: db,
    bytes: res.bytes,
    durationMs: Date.now() - t0,
  });
  return res;
}

/** The manifest record of a streamed Neo4j backup file (pending until the sink commits it). */
export function neo4jRecord(
  kind: 'neo4j-dump' | 'neo4j-export',
  name: string,
  reserved: ReservedFile,
  got: StreamResult,
  startedAt: Date,
  ctx: TargetContext,
  fields: Pick<ArtifactRecord, 'serverVersion' | 'counts' | 'sample' | 'details'>,
): ArtifactRecord {
  return {
    target: 'neo4j',
    kind,
    name,
    file: reserved.rel,
    status: 'pending',
    bytes: got.bytes,
    sha256: got.sha256,
    serverChecksum: null,
    checksumSource: 'self',
    ...fields,
    startedAt: startedAt.toISOString(),
    finishedAt: ctx.now().toISOString(),
    durationMs: ctx.now().getTime() - startedAt.getTime(),
  };
}

/** The Bolt URI without credentials, for the manifest. */
export const redactedUri = (bolt: BoltOptions) => withoutUserInfo(bolt.uri);

/**
 * Reserves a file, lets `work` fill it and build its record, and commits it; on any failure the
 * temporary file is discarded, so nothing half-written is ever listed.
 */
export async function withNeo4jFile(
  sink: ArtifactSink,
  db: string,
  ext: string,
  work: (reserved: ReservedFile) => Promise<ArtifactRecord>,
): Promise<ArtifactRecord> {
  const reserved = await sink.reserve('neo4j', db, ext);
  let committed = false;
  try {
    const record = await work(reserved);
    await sink.commit(record, reserved.tempPath);
    committed = true;
    return record;
  } finally {
    if (!committed) await sink.discard(reserved.tempPath);
  }
}

/** What a dump records of the database while it still runs: version, counts, sample, probes. */
export interface DumpFacts {
  startedAt: Date;
  graph: Awaited<ReturnType<typeof describeGraph>>;
  probes: Awaited<ReturnType<typeof recordNeo4jProbes>>;
}

/** Reads what a dump records, over Bolt, before Neo4j is stopped. */
export async function describeForDump(
  runtime: Neo4jRuntime,
  ctx: TargetContext,
  opts: Neo4jBackupOptions,
): Promise<DumpFacts> {
  const startedAt = ctx.now();
  await runtime.preflight();
  const graph = await describeGraph(opts.bolt, opts.sampleSize ?? 3);
  const probes = await recordNeo4jProbes(opts.bolt, opts.probeQueries ?? []);
  throwIfAborted(ctx.signal);
  return { startedAt, graph, probes };
}

/**
 * Dumps the database into the sink with `facts` read before, running neo4j-admin inside
 * `stopped` (which stops Neo4j around it, or runs it as is when Neo4j is stopped already and the
 * outage is someone else's to report). When `stopped` read the counts again after Neo4j's
 * restart (`after`) and they moved, the record holds ranges (neo4j-count-range.ts). Returns the
 * committed record.
 */
export async function dumpInto(
  runtime: Neo4jRuntime,
  sink: ArtifactSink,
  ctx: TargetContext,
  opts: Neo4jBackupOptions,
  facts: DumpFacts,
  stopped: <T>(work: () => Promise<T>) => Promise<{ result: T; downtime?: Downtime; after?: GraphCounts }>,
): Promise<ArtifactRecord> {
  const db = opts.bolt.database;
  const { graph } = facts;
  return withNeo4jFile(sink, db, '.dump', async (reserved) => {
    let downtime: Downtime | undefined;
    let after: GraphCounts | undefined;
    const got = await dumpToFile(runtime, db, reserved.tempPath, reserved.rel, ctx, async (work) => {
      const r = await stopped(work);
      downtime = r.downtime;
      after = r.after;
      return r.result;
    });
    const { counts, changed } = dumpCounts(graph.counts, after);
    if (changed) ctx.reporter.emit({ type: 'warning', target: 'neo4j', name: db, message: changed });
    return neo4jRecord('neo4j-dump', db, reserved, got, facts.startedAt, ctx, {
      serverVersion: graph.version,
      counts,
      sample: graph.sample,
      details: {
        mode: 'dump',
        probes: facts.probes,
        ...(changed ? { changedDuringDump: true } : {}),
        runtime: runtime.spec,
        ...(downtime ? { downtimeMs: downtime.ms } : {}),
        uri: redactedUri(opts.bolt),
      },
    });
  });
}

/** Dumps the database into the sink, stopping Neo4j for it. Returns the committed record. */
export async function backupNeo4jDump(
  runtime: Neo4jRuntime,
  sink: ArtifactSink,
  ctx: TargetContext,
  opts: Neo4jBackupOptions,
): Promise<ArtifactRecord> {
  const facts = await describeForDump(runtime, ctx, opts);
  return dumpInto(runtime, sink, ctx, opts, facts, async (work) => {
    const r = await withNeo4jStopped(runtime, opts, ctx, work);
    // writes committed between the description and the stop are in the dump: count again
    if (!r.downtime.restarted) return r;
    // a count that fails now does not cost the dump: its counts stay those read before the stop
    const after = await countsNow(opts.bolt).catch((err: Error) => {
      ctx.reporter.emit({
        type: 'warning',
        target: 'neo4j',
        message: `could not count the graph again after the restart (${err.message}); the counts read before the stop are recorded`,
      });
      return undefined;
    });
    return after ? { ...r, after } : r;
  });
}

/** The counts over Bolt, right after Neo4j answers again. */
async function countsNow(bolt: BoltOptions): Promise<GraphCounts> {
  const client = await openBolt(bolt);
  try {
    return await client.counts();
  } finally {
    await client.close();
  }
}
