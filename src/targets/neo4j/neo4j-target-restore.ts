/**
 * Neo4j restores (moved from core/restore-neo4j.ts and core/restore-set.ts): a dump (stop, load,
 * start) or an export (imported over Bolt while Neo4j runs), alone with its own checks and safety
 * backup (`restore-neo4j`), or as the Neo4j part of a set restore (`restore SET`).
 */
import { QnbError, SafetyBackupError, toQnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { Repository } from '../../core/repository.js';
import { createSetSink, failSafetySet, finishSet, startSet } from '../../core/set-lifecycle.js';
import { isNewerVersion } from '../../core/version.js';
import type {
  ArtifactSink,
  RestoreOutcome,
  RestorePlan,
  TargetContext,
  TargetRestoreOptions,
} from '../target.js';
import { describeForDump, describeGraph, type Neo4jBackupOptions } from './neo4j-backup.js';
import { expectedText } from './neo4j-count-range.js';
import { checkDumpHeader } from './neo4j-dump-file.js';
import { backupNeo4jExport } from './neo4j-export.js';
import { EXPORT_EXT } from './neo4j-export-format.js';
import { readHalfLoaded } from './neo4j-guardian.js';
import { restoreNeo4jDump, restoreNeo4jExport, type SafetyAtLoad } from './neo4j-restore.js';
import type { SafetyBackup } from './neo4j-rollback.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

/** What restores need. `runtime` is only needed for dumps. */
export interface RestoreDeps {
  repository: Repository;
  runtime: () => Neo4jRuntime;
  opts: Neo4jBackupOptions;
}

/** A set restore's Neo4j plan: whether the database holds data, and the safety dump once taken. */
export interface Neo4jRestorePlan extends RestorePlan {
  artifact: ArtifactRecord;
  hasData: boolean;
  /** The safety backup once taken: loaded back if the restore fails after touching the database. */
  safety?: SafetyBackup;
  /** A dump restore's safety dump goes into this sink, taken by the restore within the load's stop. */
  safetySink?: ArtifactSink;
}

/** What `neo4jRestoreRefusals` found: the runtime of a dump restore and whether the database holds data. */
interface Neo4jRestoreCheck {
  runtime: Neo4jRuntime | undefined;
  hasData: boolean;
  /** A newer Neo4j's backup restored anyway (an export, or `force`). */
  warning?: string;
}

/**
 * A single restore's refusals, none of which reads more of the backup file than its header: the
 * database name, a dump from a newer Neo4j (unless `force`), a database holding data (unless
 * `yes`). `restore-neo4j` runs them before it re-hashes the file, and `restoreNeo4j` again.
 */
export async function neo4jRestoreRefusals(
  deps: RestoreDeps,
  artifact: ArtifactRecord,
  path: string,
  opts: TargetRestoreOptions,
): Promise<Neo4jRestoreCheck> {
  const db = deps.opts.bolt.database;
  if (artifact.name !== db) {
    throw new QnbError(
      'E_USAGE',
      `${artifact.file} holds database "${artifact.name}", but NEO4J_DATABASE is "${db}"`,
      {
        hint: 'Community serves one database; set NEO4J_DATABASE to match',
      },
    );
  }
  const isExport = artifact.kind === 'neo4j-export';
  if (!isExport) await checkDumpHeader(path, artifact.file); // before anything is stopped or touched
  const runtime = isExport ? undefined : deps.runtime();
  await runtime?.preflight();
  // an interrupted load left Neo4j stopped on a store that fails its check: nothing to read or
  // save. Only while Neo4j is in fact down: a notice left behind after Neo4j was brought back
  // some other way must not turn off the refusal and the safety dump of what it holds now
  const notice = runtime ? await readHalfLoaded(deps.opts.backupDir) : undefined;
  const leftStopped = notice?.loadable === false && !(await runtime!.isRunning());
  if (leftStopped && !opts.yes) {
    // what the store holds cannot be read: Neo4j may have been started, used and stopped since
    throw new QnbError(
      'E_REFUSED',
      `neo4j: Neo4j is stopped since a restore was interrupted while loading ${notice.file} (${notice.since}), so qnb cannot read what database "${db}" holds now`,
      {
        hint: 're-run with --yes to replace it (no safety dump: that store failed `neo4j-admin database check`); if Neo4j was started and used since, start it first so qnb takes a safety dump',
      },
    );
  }
  const current = leftStopped ? undefined : await describeGraph(deps.opts.bolt, 0);
  const newer = current && artifact.serverVersion && isNewerVersion(artifact.serverVersion, current.version);
  if (newer && !isExport && !opts.force) {
    throw new QnbError(
      'E_REFUSED',
      `neo4j: ${artifact.file} comes from Neo4j ${artifact.serverVersion}, newer than the server (${current?.version})`,
      {
        hint: 'load it into a Neo4j of the same version (or pass --force)',
      },
    );
  }
  const hasData = current ? current.counts.nodes > 0 || current.counts.relationships > 0 : false;
  if (hasData && !opts.yes) {
    throw new QnbError(
      'E_REFUSED',
      `neo4j: database "${db}" holds ${current?.counts.nodes} nodes and would be overwritten`,
      {
        hint: `re-run with --yes (qnb takes a safety ${isExport ? 'export' : 'dump'} first)`,
      },
    );
  }
  const warning = newer
    ? `${artifact.file} comes from Neo4j ${artifact.serverVersion}, newer than the server (${current?.version}); ${isExport ? 'importing it anyway (an export is logical)' : 'loading it anyway (--force)'}`
    : undefined;
  return { runtime, hasData, ...(warning ? { warning } : {}) };
}

/**
 * Restores the Neo4j database from a checked dump or export, chosen by the artifact's kind
 * (`restore-neo4j`).
 */
export async function restoreNeo4j(
  deps: RestoreDeps,
  artifact: ArtifactRecord,
  path: string,
  opts: TargetRestoreOptions,
  ctx: TargetContext,
): Promise<RestoreOutcome> {
  const { repository } = deps;
  const db = deps.opts.bolt.database;
  const { runtime, hasData, warning } = await neo4jRestoreRefusals(deps, artifact, path, opts);
  if (warning) ctx.reporter.emit({ type: 'warning', target: 'neo4j', name: db, message: warning });
  if (!hasData) {
    ctx.reporter.emit({ type: 'step', target: 'neo4j', name: db, message: loadingStep(runtime, artifact) });
    const report = runtime
      ? await restoreNeo4jDump(runtime, artifact, path, ctx, deps.opts)
      : await restoreNeo4jExport(artifact, path, ctx, deps.opts);
    return { report };
  }
  const set = await startSet(repository, 'restore-neo4j (safety backup)', ctx.now(), 'pre-restore');
  const sink = createSetSink(repository, set, ctx.now);
  let taken = false;
  const finish = async (rec: ArtifactRecord): Promise<SafetyBackup> => {
    await finishSet(repository, set, ctx.now());
    taken = true;
    return { ...safetyOf(deps, rec), setId: set.id };
  };
  try {
    if (runtime) {
      // a dump: the safety dump and the load share one stop (neo4j-restore.ts `SafetyAtLoad`)
      const facts = await describeForDump(runtime, ctx, deps.opts);
      const report = await restoreNeo4jDump(runtime, artifact, path, ctx, {
        ...deps.opts,
        safetyAtLoad: { sink, facts, taken: finish },
      });
      return { report, safetySetId: set.id };
    }
    ctx.reporter.emit({
      type: 'step',
      target: 'neo4j',
      name: db,
      message: `safety export of "${db}" before overwriting it`,
    });
    let safety: SafetyBackup;
    try {
      safety = await finish(await backupNeo4jExport(sink, ctx, deps.opts));
    } catch (err) {
      throw new SafetyBackupError(toQnbError(err, ctx.signal));
    }
    ctx.reporter.emit({ type: 'step', target: 'neo4j', name: db, message: loadingStep(runtime, artifact) });
    const report = await restoreNeo4jExport(artifact, path, ctx, { ...deps.opts, safety });
    return { report, safetySetId: set.id };
  } catch (err) {
    // the SafetyBackupError itself: its message also says when Neo4j did not start again
    if (err instanceof SafetyBackupError || !taken)
      throw await failSafetySet(
        repository,
        set,
        { target: 'neo4j', name: db },
        `safety backup of "${db}"`,
        err,
        ctx.now(),
        ctx.signal,
      );
    throw err;
  }
}

/** The step before a load or import. */
const loadingStep = (runtime: Neo4jRuntime | undefined, artifact: ArtifactRecord) =>
  `${runtime ? 'loading' : 'importing'} ${artifact.file} into "${artifact.name}"`;

/** The artifact kind of a Neo4j backup file, by its name. */
export function neo4jKindOf(path: string): 'neo4j-dump' | 'neo4j-export' {
  return path.endsWith(EXPORT_EXT) ? 'neo4j-export' : 'neo4j-dump';
}

/** A set restore's checks for its Neo4j artifact: version, whether the database holds data. */
export async function planNeo4jRestore(
  deps: RestoreDeps,
  artifacts: ArtifactRecord[],
  opts: { force?: boolean },
): Promise<Neo4jRestorePlan> {
  const neo4jArt = artifacts[0]!;
  const overwrites: string[] = [];
  const neo4jExport = neo4jArt.kind === 'neo4j-export';
  if (!neo4jExport) await deps.runtime().preflight();
  const now = await describeGraph(deps.opts.bolt, 0);
  const newer = neo4jArt.serverVersion && isNewerVersion(neo4jArt.serverVersion, now.version);
  if (newer && !neo4jExport && !opts.force) {
    throw new QnbError(
      'E_REFUSED',
      `neo4j: the dump comes from Neo4j ${neo4jArt.serverVersion}, newer than the server (${now.version})`,
    );
  }
  const neo4jHasData = now.counts.nodes > 0 || now.counts.relationships > 0;
  if (neo4jHasData)
    overwrites.push(
      `Neo4j database "${neo4jArt.name}" (${now.counts.nodes} nodes now → ${expectedText(neo4jArt, 'nodes') ?? '?'})`,
    );
  return { overwrites, artifact: neo4jArt, hasData: neo4jHasData };
}

/**
 * The safety backup of a set restore: an export now when an export is restored; a dump is taken
 * by `restorePlanned` within the load's stop (`safetyAtRestore`), what it records read just before.
 */
export async function neo4jSafetyBackup(
  deps: RestoreDeps,
  plan: Neo4jRestorePlan,
  sink: ArtifactSink,
  ctx: TargetContext,
): Promise<void> {
  if (!plan.hasData) return;
  if (plan.artifact.kind === 'neo4j-export') {
    // an export restore needs no runtime, so neither does its safety backup
    const rec = await backupNeo4jExport(sink, ctx, deps.opts);
    plan.safety = { ...safetyOf(deps, rec), ...(sink.setId ? { setId: sink.setId } : {}) };
    return;
  }
  // the dump's record (counts, sample, probes) is read right before the stop (restorePlanned)
  plan.safetyAtRestore = true;
  plan.safetySink = sink;
}

/** What a rollback needs of a safety backup's record: its file and counts. */
function safetyOf(deps: RestoreDeps, rec: ArtifactRecord): SafetyBackup {
  return { path: deps.repository.resolve(rec.file), file: rec.file, counts: rec.counts };
}

/** The Neo4j artifact of a set restore, after its plan and safety backup. */
export async function restorePlanned(
  deps: RestoreDeps,
  a: ArtifactRecord,
  path: string,
  plan: Neo4jRestorePlan,
  ctx: TargetContext,
): Promise<RestoreOutcome> {
  const sink = plan.safetySink;
  let safetyAtLoad: SafetyAtLoad | undefined;
  if (sink && a.kind === 'neo4j-dump') {
    try {
      const facts = await describeForDump(deps.runtime(), ctx, deps.opts);
      safetyAtLoad = {
        sink,
        facts,
        taken: async (rec) => {
          await plan.safetyTaken?.();
          return { ...safetyOf(deps, rec), ...(sink.setId ? { setId: sink.setId } : {}) };
        },
      };
    } catch (err) {
      throw new SafetyBackupError(toQnbError(err, ctx.signal));
    }
  }
  if (a.kind === 'neo4j-export') {
    const opts = { ...deps.opts, ...(plan.safety ? { safety: plan.safety } : {}) };
    return { report: await restoreNeo4jExport(a, path, ctx, opts) };
  }
  // a dump over data loads only with its safety dump in the same stop (the plan arranged it for
  // the set's first Neo4j artifact; a second one would have none)
  if (plan.hasData && !safetyAtLoad)
    throw new QnbError(
      'E_REFUSED',
      `neo4j: no safety dump was arranged for ${a.file}, so it was not loaded`,
      {
        hint: `restore it on its own: \`qnb restore-neo4j ${a.file} --yes\``,
      },
    );
  const opts = { ...deps.opts, ...(safetyAtLoad ? { safetyAtLoad } : {}) };
  return { report: await restoreNeo4jDump(deps.runtime(), a, path, ctx, opts) };
}
