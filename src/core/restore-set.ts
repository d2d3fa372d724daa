/**
 * `qnb restore SET`: brings every store of one backup set back to the same point. Everything
 * that can be checked is checked before anything is touched (file hashes, versions, what would
 * be overwritten); a safety set of the current state is taken first; then each artifact is
 * restored and verified. If a step fails, the report says which state each store is in and how
 * to get back (the safety set's id).
 */
import type { Neo4jBackupOptions } from '../targets/neo4j/neo4j-backup.js';
import { backupNeo4jDump, describeGraph } from '../targets/neo4j/neo4j-backup.js';
import { backupNeo4jExport } from '../targets/neo4j/neo4j-export.js';
import { restoreNeo4jDump, restoreNeo4jExport } from '../targets/neo4j/neo4j-restore.js';
import type { Neo4jRuntime } from '../targets/neo4j/neo4j-runtime.js';
import type { QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { backupQdrantScope } from '../targets/qdrant/qdrant-backup.js';
import { countPoints } from '../targets/qdrant/qdrant-count.js';
import { checkShardingRestorable, restoreQdrantCollection } from '../targets/qdrant/qdrant-restore.js';
import { restoreIncompatibility } from '../targets/qdrant/qdrant-version.js';
import type { TargetContext } from '../targets/target.js';
import { isAbort, NotFoundError, QnbError, toQnbError } from './errors.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import { checkPickedFile } from './pick.js';
import type { Repository } from './repository.js';
import { isNewerVersion } from './restore-neo4j.js';
import { createSetSink, finishSet, startSet } from './run.js';

/** Options of restore SET. */
export interface RestoreSetOptions {
  setId?: string;
  latest?: boolean;
  yes?: boolean;
  force?: boolean;
}

/** One store's outcome. */
export interface RestoreStep {
  target: 'qdrant' | 'neo4j';
  name: string;
  file: string;
  /** restored = done and verified; failed = attempted, state unknown; untouched = not attempted. */
  state: 'restored' | 'failed' | 'untouched';
  detail?: string;
}

/** What restore SET did. */
export interface RestoreSetResult {
  setId: string;
  ok: boolean;
  steps: RestoreStep[];
  /** The set holding what was there before (restore it to undo). */
  safetySetId?: string;
  /** What would be overwritten (also filled when refused). */
  overwrites: string[];
}

interface Deps {
  repository: Repository;
  ctx: TargetContext;
  qdrant: () => QdrantApi;
  neo4j: () => Neo4jRuntime;
  neo4jOpts: Neo4jBackupOptions;
  keepServerSnapshots: boolean;
}

async function pickSet(repo: Repository, opts: RestoreSetOptions): Promise<SetManifest> {
  if (opts.setId) return repo.loadSet(opts.setId);
  if (!opts.latest)
    throw new QnbError('E_USAGE', 'restore: name a backup SET id or pass --latest', {
      hint: 'run `qnb list --json` to see set ids',
    });
  const scan = await repo.scan();
  const sets = scan.sets
    .filter((s) => s.reason === 'backup' && s.status === 'ok' && s.artifacts.some((a) => a.status === 'ok'))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const complete =
    sets.find(
      (s) => s.artifacts.some((a) => a.target === 'neo4j') && s.artifacts.some((a) => a.target === 'qdrant'),
    ) ?? sets[0];
  if (!complete)
    throw new NotFoundError(`no complete backup set in ${repo.root}`, 'run `qnb backup-all` first');
  return complete;
}

/** Restores a whole backup set. */
export async function restoreSet(deps: Deps, opts: RestoreSetOptions): Promise<RestoreSetResult> {
  const { repository, ctx } = deps;
  const set = await pickSet(repository, opts);
  const artifacts = set.artifacts.filter(
    (a) =>
      a.status === 'ok' &&
      (a.kind === 'qdrant-collection' || a.kind === 'neo4j-dump' || a.kind === 'neo4j-export'),
  );
  if (artifacts.length === 0) throw new NotFoundError(`backup set ${set.id} holds nothing restorable`);
  // 1. every file intact before anything is touched
  const files = new Map<ArtifactRecord, string>();
  for (const a of artifacts) {
    const checked = await checkPickedFile(
      { artifact: a, path: repository.resolve(a.file), trusted: true },
      ctx,
      opts.force,
    );
    files.set(a, checked.path);
  }
  // 2. what exists now, version checks
  const qdrantArts = artifacts.filter((a) => a.target === 'qdrant');
  const neo4jArt = artifacts.find((a) => a.target === 'neo4j');
  const overwrites: string[] = [];
  const exists = new Map<string, boolean>();
  let qVersion = '';
  if (qdrantArts.length) {
    const api = deps.qdrant();
    qVersion = await api.version();
    for (const a of qdrantArts) {
      const inc = restoreIncompatibility(a.serverVersion, qVersion);
      if (inc && !opts.force)
        throw new QnbError('E_REFUSED', `qdrant: ${inc}`, { hint: 'pass --force to try anyway' });
      const there = await api.collectionExists(a.name);
      exists.set(a.name, there);
      checkShardingRestorable(a, a.name, there);
      if (there)
        overwrites.push(
          `Qdrant collection "${a.name}" (${(await countPoints(api, a.name)).count} points now → ${a.counts.points ?? '?'})`,
        );
    }
  }
  let neo4jHasData = false;
  const neo4jExport = neo4jArt?.kind === 'neo4j-export';
  if (neo4jArt) {
    if (!neo4jExport) await deps.neo4j().preflight();
    const now = await describeGraph(deps.neo4jOpts.bolt, 0);
    const newer = neo4jArt.serverVersion && isNewerVersion(neo4jArt.serverVersion, now.version);
    if (newer && !neo4jExport && !opts.force) {
      throw new QnbError(
        'E_REFUSED',
        `neo4j: the dump comes from Neo4j ${neo4jArt.serverVersion}, newer than the server (${now.version})`,
      );
    }
    neo4jHasData = now.counts.nodes > 0 || now.counts.relationships > 0;
    if (neo4jHasData)
      overwrites.push(
        `Neo4j database "${neo4jArt.name}" (${now.counts.nodes} nodes now → ${neo4jArt.counts.nodes ?? '?'})`,
      );
  }
  if (overwrites.length && !opts.yes) {
    throw new QnbError('E_REFUSED', `restore ${set.id} would overwrite: ${overwrites.join('; ')}`, {
      hint: 're-run with --yes (a safety backup set of the current state is taken first)',
    });
  }
  // 3. safety set of everything that will be overwritten
  let safetySetId: string | undefined;
  let neo4jSafetyPath: string | undefined;
  if (overwrites.length) {
    const safety = await startSet(repository, `restore ${set.id} (safety backup)`, ctx.now(), 'pre-restore');
    const sink = createSetSink(repository, safety, ctx.now);
    try {
      for (const a of qdrantArts.filter((x) => exists.get(x.name))) {
        await backupQdrantScope(deps.qdrant(), a.name, qVersion, sink, ctx, {
          keepServerSnapshot: deps.keepServerSnapshots,
        });
      }
      if (neo4jArt && neo4jHasData) {
        // an export restore needs no runtime, so neither does its safety backup
        const rec = neo4jExport
          ? await backupNeo4jExport(sink, ctx, deps.neo4jOpts)
          : await backupNeo4jDump(deps.neo4j(), sink, ctx, deps.neo4jOpts);
        neo4jSafetyPath = repository.resolve(rec.file);
      }
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      safety.errors.push({ target: 'qdrant', name: '*', code: e.code, message: e.message });
      await finishSet(repository, safety, ctx.now(), 'failed');
      throw new QnbError(e.code, `safety backup failed, so nothing was restored: ${e.message}`, {
        hint: e.hint,
        cause: e,
      });
    }
    await finishSet(repository, safety, ctx.now());
    safetySetId = safety.id;
  }
  // 4. restore, stopping at the first failure
  const steps: RestoreStep[] = artifacts.map((a) => ({
    target: a.target,
    name: a.name,
    file: a.file,
    state: 'untouched',
  }));
  for (const [i, a] of artifacts.entries()) {
    const step = steps[i]!;
    try {
      if (a.target === 'qdrant') {
        await restoreQdrantCollection(deps.qdrant(), a, files.get(a)!, ctx, {
          as: a.name,
          targetExists: exists.get(a.name) ?? false,
        });
      } else if (a.kind === 'neo4j-export') {
        await restoreNeo4jExport(a, files.get(a)!, ctx, deps.neo4jOpts);
      } else {
        await restoreNeo4jDump(deps.neo4j(), a, files.get(a)!, ctx, {
          ...deps.neo4jOpts,
          ...(neo4jSafetyPath ? { safetyPath: neo4jSafetyPath } : {}),
        });
      }
      step.state = 'restored';
    } catch (err) {
      if (isAbort(err, ctx.signal)) throw err;
      step.state = 'failed';
      step.detail = toQnbError(err, ctx.signal).message;
      break;
    }
  }
  return {
    setId: set.id,
    ok: steps.every((s) => s.state === 'restored'),
    steps,
    overwrites,
    ...(safetySetId ? { safetySetId } : {}),
  };
}
