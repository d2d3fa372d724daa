/**
 * Neo4j restores (moved from core/restore-neo4j.ts and core/restore-set.ts): a dump (stop, load,
 * start) or an export (imported over Bolt while Neo4j runs), alone with its own checks and safety
 * backup (`restore-neo4j`), or as the Neo4j part of a set restore (`restore SET`).
 */
import { QnbError, toQnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { Repository } from '../../core/repository.js';
import { createSetSink, finishSet, startSet } from '../../core/set-lifecycle.js';
import { isNewerVersion } from '../../core/version.js';
import type {
  ArtifactSink,
  RestoreOutcome,
  RestorePlan,
  TargetContext,
  TargetRestoreOptions,
} from '../target.js';
import { backupNeo4jDump, describeGraph, type Neo4jBackupOptions } from './neo4j-backup.js';
import { backupNeo4jExport } from './neo4j-export.js';
import { EXPORT_EXT } from './neo4j-export-format.js';
import { restoreNeo4jDump, restoreNeo4jExport } from './neo4j-restore.js';
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
  safetyPath?: string;
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
  const runtime = isExport ? undefined : deps.runtime();
  await runtime?.preflight();
  const current = await describeGraph(deps.opts.bolt, 0);
  const newer = artifact.serverVersion && isNewerVersion(artifact.serverVersion, current.version);
  if (newer && isExport) {
    ctx.reporter.emit({
      type: 'warning',
      target: 'neo4j',
      name: db,
      message: `${artifact.file} comes from Neo4j ${artifact.serverVersion}, newer than the server (${current.version}); importing it anyway (an export is logical)`,
    });
  } else if (newer && !opts.force) {
    throw new QnbError(
      'E_REFUSED',
      `neo4j: ${artifact.file} comes from Neo4j ${artifact.serverVersion}, newer than the server (${current.version})`,
      {
        hint: 'load it into a Neo4j of the same version (or pass --force)',
      },
    );
  }
  const hasData = current.counts.nodes > 0 || current.counts.relationships > 0;
  if (hasData && !opts.yes) {
    throw new QnbError(
      'E_REFUSED',
      `neo4j: database "${db}" holds ${current.counts.nodes} nodes and would be overwritten`,
      {
        hint: `re-run with --yes (qnb takes a safety ${isExport ? 'export' : 'dump'} first)`,
      },
    );
  }
  let safety: { setId: string; path: string; file: string } | undefined;
  if (hasData) {
    ctx.reporter.emit({
      type: 'step',
      target: 'neo4j',
      name: db,
      message: `safety ${runtime ? 'dump' : 'export'} of "${db}" before overwriting it`,
    });
    const set = await startSet(repository, 'restore-neo4j (safety backup)', ctx.now(), 'pre-restore');
    try {
      const sink = createSetSink(repository, set, ctx.now);
      const rec = runtime
        ? await backupNeo4jDump(runtime, sink, ctx, deps.opts)
        : await backupNeo4jExport(sink, ctx, deps.opts);
      safety = { setId: set.id, path: repository.resolve(rec.file), file: rec.file };
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      set.errors.push({ target: 'neo4j', name: db, code: e.code, message: e.message });
      await finishSet(repository, set, ctx.now(), 'failed');
      throw new QnbError(e.code, `safety backup of "${db}" failed, so nothing was restored: ${e.message}`, {
        hint: e.hint,
        cause: e,
      });
    }
    await finishSet(repository, set, ctx.now());
  }
  ctx.reporter.emit({
    type: 'step',
    target: 'neo4j',
    name: db,
    message: `${runtime ? 'loading' : 'importing'} ${artifact.file} into "${db}"`,
  });
  const report = runtime
    ? await restoreNeo4jDump(runtime, artifact, path, ctx, {
        ...deps.opts,
        ...(safety ? { safetyPath: safety.path } : {}),
      })
    : await restoreNeo4jExport(artifact, path, ctx, {
        ...deps.opts,
        ...(safety ? { safety } : {}),
      });
  return { report, ...(safety ? { safetySetId: safety.setId } : {}) };
}

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
      `Neo4j database "${neo4jArt.name}" (${now.counts.nodes} nodes now → ${neo4jArt.counts.nodes ?? '?'})`,
    );
  return { overwrites, artifact: neo4jArt, hasData: neo4jHasData };
}

/** The safety backup of a set restore: a dump, or an export when an export is restored. */
export async function neo4jSafetyBackup(
  deps: RestoreDeps,
  plan: Neo4jRestorePlan,
  sink: ArtifactSink,
  ctx: TargetContext,
): Promise<void> {
  if (!plan.hasData) return;
  // an export restore needs no runtime, so neither does its safety backup
  const rec =
    plan.artifact.kind === 'neo4j-export'
      ? await backupNeo4jExport(sink, ctx, deps.opts)
      : await backupNeo4jDump(deps.runtime(), sink, ctx, deps.opts);
  plan.safetyPath = deps.repository.resolve(rec.file);
}

/** The Neo4j artifact of a set restore, after its plan and safety backup. */
export async function restorePlanned(
  deps: RestoreDeps,
  a: ArtifactRecord,
  path: string,
  plan: Neo4jRestorePlan,
  ctx: TargetContext,
): Promise<RestoreOutcome> {
  const report =
    a.kind === 'neo4j-export'
      ? await restoreNeo4jExport(a, path, ctx, deps.opts)
      : await restoreNeo4jDump(deps.runtime(), a, path, ctx, {
          ...deps.opts,
          ...(plan.safetyPath ? { safetyPath: plan.safetyPath } : {}),
        });
  return { report };
}
