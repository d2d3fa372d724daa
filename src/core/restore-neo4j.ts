import type { Neo4jBackupOptions } from '../targets/neo4j/neo4j-backup.js';
import { backupNeo4jDump, describeGraph } from '../targets/neo4j/neo4j-backup.js';
import { type Neo4jRestoreReport, restoreNeo4jDump } from '../targets/neo4j/neo4j-restore.js';
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

/** Restores the Neo4j database from a dump. */
export async function restoreNeo4j(
  deps: { repository: Repository; runtime: Neo4jRuntime; ctx: TargetContext; opts: Neo4jBackupOptions },
  opts: RestoreNeo4jOptions,
): Promise<{ report: Neo4jRestoreReport; safetySetId?: string; artifact: ArtifactRecord }> {
  const { repository, runtime, ctx } = deps;
  const db = deps.opts.bolt.database;
  const picked = await pickArtifact(repository, opts, {
    target: 'neo4j',
    kinds: ['neo4j-dump'],
    command: 'restore-neo4j',
    nameFlag: '--database',
    untrusted: (p) => untrustedRecord(p, 'neo4j', 'neo4j-dump', db),
  });
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
  await runtime.preflight();
  const current = await describeGraph(deps.opts.bolt, 0);
  if (artifact.serverVersion && isNewerVersion(artifact.serverVersion, current.version) && !opts.force) {
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
        hint: 're-run with --yes (qnb takes a safety dump first)',
      },
    );
  }
  let safety: { setId: string; path: string } | undefined;
  if (hasData) {
    ctx.reporter.emit({
      type: 'step',
      target: 'neo4j',
      name: db,
      message: `safety dump of "${db}" before overwriting it`,
    });
    const set = await startSet(repository, 'restore-neo4j (safety backup)', ctx.now(), 'pre-restore');
    try {
      const rec = await backupNeo4jDump(runtime, createSetSink(repository, set, ctx.now), ctx, deps.opts);
      safety = { setId: set.id, path: repository.resolve(rec.file) };
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      set.errors.push({ target: 'neo4j', name: db, code: e.code, message: e.message });
      await finishSet(repository, set, ctx.now(), 'failed');
      throw new QnbError(e.code, `safety dump of "${db}" failed, so nothing was restored: ${e.message}`, {
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
    message: `loading ${artifact.file} into "${db}"`,
  });
  const report = await restoreNeo4jDump(runtime, artifact, path, ctx, {
    ...deps.opts,
    ...(safety ? { safetyPath: safety.path } : {}),
  });
  return { report, artifact, ...(safety ? { safetySetId: safety.setId } : {}) };
}
