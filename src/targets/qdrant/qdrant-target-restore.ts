/**
 * Qdrant restores (moved from core/restore.ts and core/restore-set.ts): one collection from a
 * snapshot, with its own checks and safety snapshot (`restore-qdrant`), or the Qdrant part of a
 * set restore (`restore SET`): plan, safety snapshots into the set's safety set, restore.
 */
import { basename } from 'node:path';
import { QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { Repository } from '../../core/repository.js';
import { untrustedRecord } from '../../core/selector.js';
import { createSetSink, failSafetySet, finishSet, startSet } from '../../core/set-lifecycle.js';
import type {
  ArtifactSink,
  RestoreOutcome,
  RestorePlan,
  TargetContext,
  TargetRestoreOptions,
} from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import { backupQdrantScope, type QdrantBackupOptions } from './qdrant-backup.js';
import { prepareClusterBackup } from './qdrant-cluster-backup.js';
import { clusterDetails } from './qdrant-cluster-details.js';
import { dryRunPlan, restoreCollectionFile } from './qdrant-cluster-restore.js';
import { countPoints } from './qdrant-count.js';
import { checkShardingRestorable, fullSnapshotRestoreError, refuseAliasTarget } from './qdrant-restore.js';
import { checkShardIdsMatch, isCustomSharded } from './qdrant-shard-layout.js';
import { restoreIncompatibility } from './qdrant-version.js';

/** What restores need. */
export interface RestoreDeps {
  api: QdrantApi;
  repository: Repository;
  keepServerSnapshots: boolean;
  /** drill.recallThreshold. */
  recallThreshold?: number;
}

/** A set restore's Qdrant plan: the server version and which collections exist now. */
export interface QdrantRestorePlan extends RestorePlan {
  version: string;
  exists: Map<string, boolean>;
}

/** The record of a snapshot outside any manifest (`--force`): its collection from `--collection` or the name. */
export async function untrustedArtifact(
  path: string,
  opts: { file?: string; collection?: string },
): Promise<ArtifactRecord> {
  const name = opts.collection ?? /^(.*)-backup-\d{8}-\d{6}(?:-\d+)?\.snapshot$/.exec(basename(path))?.[1];
  if (!name) {
    throw new QnbError('E_USAGE', `${opts.file}: cannot tell which collection it holds`, {
      hint: 'pass --collection NAME',
    });
  }
  return untrustedRecord(path, 'qdrant', 'qdrant-collection', name);
}

/** What `qdrantRestoreRefusals` found. */
interface QdrantRestoreCheck {
  serverVersion: string;
  /** Whether the collection restored into exists now. */
  exists: boolean;
  /** Versions that are not compatible, restored anyway (`force`). */
  warning?: string;
}

/**
 * A single restore's refusals, none of which reads the snapshot file: a full-storage snapshot,
 * versions Qdrant cannot restore across (unless `force`), an alias as the target, custom sharding
 * restored under another name, a collection that exists (unless `yes` or `dryRun`). `restore-qdrant` runs them before it re-hashes the
 * file, and `restoreQdrant` again.
 */
export async function qdrantRestoreRefusals(
  api: QdrantApi,
  artifact: ArtifactRecord,
  path: string,
  opts: TargetRestoreOptions,
): Promise<QdrantRestoreCheck> {
  if (artifact.kind === 'qdrant-full') throw fullSnapshotRestoreError(artifact.file, path);
  const target = opts.as ?? artifact.name;
  const serverVersion = await api.version();
  const incompatible = artifact.serverVersion
    ? restoreIncompatibility(artifact.serverVersion, serverVersion)
    : undefined;
  if (incompatible && !opts.force)
    throw new QnbError('E_REFUSED', `qdrant: ${incompatible}`, { hint: 'pass --force to try anyway' });
  await refuseAliasTarget(api, target);
  const exists = await api.collectionExists(target);
  checkShardingRestorable(artifact, target, exists);
  if (exists && isCustomSharded(artifact) && !clusterDetails(artifact))
    await checkShardIdsMatch(api, path, artifact.file, target);
  if (exists && !opts.yes && !opts.dryRun) {
    throw new QnbError('E_REFUSED', `qdrant: collection "${target}" exists and would be overwritten`, {
      hint: `re-run with --yes (qnb takes a safety snapshot of "${target}" first), or restore beside it with --as NEW_NAME`,
    });
  }
  return { serverVersion, exists, ...(incompatible ? { warning: incompatible } : {}) };
}

/** Restores one Qdrant collection from a checked snapshot file (`restore-qdrant`). */
export async function restoreQdrant(
  deps: RestoreDeps,
  artifact: ArtifactRecord,
  path: string,
  opts: TargetRestoreOptions,
  ctx: TargetContext,
): Promise<RestoreOutcome> {
  const { api } = deps;
  const target = opts.as ?? artifact.name;
  const { serverVersion, exists, warning } = await qdrantRestoreRefusals(api, artifact, path, opts);
  if (warning) ctx.reporter.emit({ type: 'warning', target: 'qdrant', message: warning });
  if (opts.dryRun) {
    const plan = await dryRunPlan(api, artifact, path, target, exists);
    const report = { collection: target, from: artifact.file, expectedPoints: '', points: 0 };
    return {
      report: { ...report, aliases: { applied: [], skipped: [] }, sampleChecked: 0, durationMs: 0, plan },
    };
  }
  let safetySetId: string | undefined;
  if (exists) safetySetId = await safetyBackup(deps, target, serverVersion, ctx);
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: target,
    message: `restoring ${artifact.file} into "${target}"`,
  });
  const report = await restoreCollectionFile(api, artifact, path, ctx, {
    as: target,
    targetExists: exists,
    ...(deps.recallThreshold === undefined ? {} : { recallThreshold: deps.recallThreshold }),
    ...(safetySetId
      ? {
          safetyNote: `its safety backup is set ${safetySetId}: qnb restore-qdrant --latest --collection ${target}`,
        }
      : {}),
  });
  return { report, ...(safetySetId ? { safetySetId } : {}) };
}

async function safetyBackup(
  deps: RestoreDeps,
  collection: string,
  version: string,
  ctx: TargetContext,
): Promise<string> {
  const { repository } = deps;
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: collection,
    message: `safety snapshot of "${collection}" before overwriting it`,
  });
  const set = await startSet(repository, 'restore-qdrant (safety backup)', ctx.now(), 'pre-restore');
  try {
    // cluster-aware: on a cluster the safety backup is a shard-snapshot backup too
    const sink = createSetSink(repository, set, ctx.now);
    await backupCheckingTopology(deps.api, collection, version, sink, ctx, {
      keepServerSnapshot: deps.keepServerSnapshots,
    });
  } catch (err) {
    throw await failSafetySet(
      repository,
      set,
      { target: 'qdrant', name: collection },
      `safety snapshot of "${collection}"`,
      err,
      ctx.now(),
      ctx.signal,
    );
  }
  await finishSet(repository, set, ctx.now());
  return set.id;
}

/** A set restore's checks for its Qdrant collections: versions, sharding, what would be overwritten. */
export async function planQdrantRestore(
  api: QdrantApi,
  qdrantArts: ArtifactRecord[],
  opts: { force?: boolean },
): Promise<QdrantRestorePlan> {
  const overwrites: string[] = [];
  const exists = new Map<string, boolean>();
  const qVersion = await api.version();
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
  return { overwrites, version: qVersion, exists };
}

/** Safety snapshots of the collections a set restore overwrites, into the safety set's sink. */
export async function qdrantSafetyBackup(
  deps: RestoreDeps,
  plan: QdrantRestorePlan,
  sink: ArtifactSink,
  ctx: TargetContext,
): Promise<void> {
  for (const [name, there] of plan.exists) {
    if (!there) continue;
    await backupCheckingTopology(deps.api, name, plan.version, sink, ctx, {
      keepServerSnapshot: deps.keepServerSnapshots,
    });
  }
}

/** One collection of a set restore, after its plan and safety snapshot. */
export async function restorePlanned(
  api: QdrantApi,
  a: ArtifactRecord,
  path: string,
  plan: QdrantRestorePlan,
  ctx: TargetContext,
  recallThreshold?: number,
): Promise<RestoreOutcome> {
  const report = await restoreCollectionFile(api, a, path, ctx, {
    as: a.name,
    targetExists: plan.exists.get(a.name) ?? false,
    ...(recallThreshold === undefined ? {} : { recallThreshold }),
  });
  return { report };
}

/**
 * A collection backup when the caller has not checked the topology (safety backups before a
 * restore): shard snapshots on a cluster, never a collection snapshot holding only one node's
 * shards; a collection snapshot on a single node.
 */
export async function backupCheckingTopology(
  api: QdrantApi,
  collection: string,
  serverVersion: string,
  sink: ArtifactSink,
  ctx: TargetContext,
  opts: QdrantBackupOptions,
): Promise<ArtifactRecord> {
  const { keepServerSnapshot } = opts;
  const prepared = await prepareClusterBackup(api, {
    ...{ full: false, scopes: [collection], serverVersion, keepServerSnapshot, ctx },
  });
  if (!prepared) return backupQdrantScope(api, collection, serverVersion, sink, ctx, opts);
  try {
    return await prepared.backup(collection, sink);
  } finally {
    await prepared.close();
  }
}
