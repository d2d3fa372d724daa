import type { Neo4jBackupOptions } from '../targets/neo4j/neo4j-backup.js';
import { backupNeo4jDump, describeGraph } from '../targets/neo4j/neo4j-backup.js';
import { checkDumpHeader } from '../targets/neo4j/neo4j-dump-file.js';
import { backupNeo4jExport } from '../targets/neo4j/neo4j-export.js';
import { EXPORT_EXT } from '../targets/neo4j/neo4j-export-format.js';
import {
  type Neo4jRestoreReport,
  restoreNeo4jDump,
  restoreNeo4jExport,
} from '../targets/neo4j/neo4j-restore.js';
import type { SafetyBackup } from '../targets/neo4j/neo4j-rollback.js';
import type { Neo4jRuntime } from '../targets/neo4j/neo4j-runtime.js';
import { parseVersion } from '../targets/qdrant/qdrant-version.js';
import type { TargetContext } from '../targets/target.js';
import { QnbError, toQnbError } from './errors.js';
import type { ArtifactRecord } from './manifest.js';
import { checkPickedFile, pickArtifact, untrustedRecord } from './pick.js';
import type { Repository } from './repository.js';
import { createSetSink, finishSet, startSet } from './run.js';

/** Options of restore-neo4j. */
export interface RestoreNeo4jOptions {
  file?: string;
  latest?: boolean;
  /** Allow overwriting a database that holds data (a safety dump is taken first). */
  yes?: boolean;
  /** Restore a file without a valid manifest entry, or a dump from a newer Neo4j. */
  force?: boolean;
  cwd?: string;
}

/** True when version `a` is newer than `b` (major.minor.patch). */
export function isNewerVersion(a: string, b: string): boolean {
  const x = parseVersion(a);
  const y = parseVersion(b);
  if (!x || !y) return false;
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i]! > y[i]!;
  return false;
}

/**
 * Restores the Neo4j database from a dump (stop, load, start) or an export (imported over Bolt
 * while Neo4j runs), chosen by the artifact's kind. `runtime` is only needed for dumps.
 */
export async function restoreNeo4j(
  deps: {
    repository: Repository;
    runtime: () => Neo4jRuntime;
    ctx: TargetContext;
    opts: Neo4jBackupOptions;
  },
  opts: RestoreNeo4jOptions,
): Promise<{ report: Neo4jRestoreReport; safetySetId?: string; artifact: ArtifactRecord }> {
  const { repository, ctx } = deps;
  const db = deps.opts.bolt.database;
  // the database restored into is NEO4J_DATABASE (Community serves one): --latest picks its backups
  const picked = await pickArtifact(
    repository,
    { ...opts, name: db },
    {
      target: 'neo4j',
      kinds: ['neo4j-dump', 'neo4j-export'],
      command: 'restore-neo4j',
      untrusted: (p) => untrustedRecord(p, 'neo4j', neo4jKindOf(p), db),
    },
  );
  const { artifact, path } = await checkPickedFile(picked, ctx, opts.force);
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
  let safety: SafetyBackup | undefined;
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
      const downtimeMs = rec.details?.downtimeMs;
      safety = {
        setId: set.id,
        path: repository.resolve(rec.file),
        file: rec.file,
        counts: rec.counts,
        ...(typeof downtimeMs === 'number' ? { downtimeMs } : {}),
      };
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
        ...(safety ? { safety } : {}),
      })
    : await restoreNeo4jExport(artifact, path, ctx, {
        ...deps.opts,
        ...(safety ? { safety } : {}),
      });
  return { report, artifact, ...(safety ? { safetySetId: safety.setId } : {}) };
}

/** The artifact kind of a Neo4j backup file, by its name. */
export function neo4jKindOf(path: string): 'neo4j-dump' | 'neo4j-export' {
  return path.endsWith(EXPORT_EXT) ? 'neo4j-export' : 'neo4j-dump';
}
