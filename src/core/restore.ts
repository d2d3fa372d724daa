import { basename } from 'node:path';
import type { QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { backupQdrantScope } from '../targets/qdrant/qdrant-backup.js';
import {
  fullSnapshotRestoreError,
  type QdrantRestoreReport,
  refuseAliasTarget,
  restoreQdrantCollection,
} from '../targets/qdrant/qdrant-restore.js';
import { restoreIncompatibility } from '../targets/qdrant/qdrant-version.js';
import type { TargetContext } from '../targets/target.js';
import { QnbError, toQnbError } from './errors.js';
import type { ArtifactRecord } from './manifest.js';
import { checkPickedFile, pickArtifact, untrustedRecord } from './pick.js';
import type { Repository } from './repository.js';
import { createSetSink, finishSet, startSet } from './run.js';

/** Options of restore-qdrant. */
export interface RestoreQdrantOptions {
  /** A snapshot file (path, or name inside the backups folder). */
  file?: string;
  /** Restore the newest valid backup (of `collection`). */
  latest?: boolean;
  /** Which collection's backup to restore (with --latest), or the name for a file outside any manifest. */
  collection?: string;
  /** Restore under a new collection name. */
  as?: string;
  /** Allow overwriting an existing collection (a safety snapshot is taken first). */
  yes?: boolean;
  /** Restore a file without a valid manifest entry, or across incompatible versions. */
  force?: boolean;
  /** Folder relative paths are resolved against. */
  cwd?: string;
}

interface RestoreDeps {
  api: QdrantApi;
  repository: Repository;
  ctx: TargetContext;
  keepServerSnapshots: boolean;
}

async function untrustedArtifact(path: string, opts: RestoreQdrantOptions): Promise<ArtifactRecord> {
  const name = opts.collection ?? /^(.*)-backup-\d{8}-\d{6}(?:-\d+)?\.snapshot$/.exec(basename(path))?.[1];
  if (!name) {
    throw new QnbError('E_USAGE', `${opts.file}: cannot tell which collection it holds`, {
      hint: 'pass --collection NAME',
    });
  }
  return untrustedRecord(path, 'qdrant', 'qdrant-collection', name);
}

/** Restores one Qdrant collection from a backup. */
export async function restoreQdrant(
  deps: RestoreDeps,
  opts: RestoreQdrantOptions,
): Promise<{ report: QdrantRestoreReport; safetySetId?: string; artifact: ArtifactRecord }> {
  const { api, repository, ctx } = deps;
  const picked = await pickArtifact(
    repository,
    { ...opts, ...(opts.collection ? { name: opts.collection } : {}) },
    {
      target: 'qdrant',
      kinds: ['qdrant-collection', 'qdrant-full'],
      command: 'restore-qdrant',
      nameFlag: '--collection',
      untrusted: (p) => untrustedArtifact(p, opts),
    },
  );
  const { artifact, path } = await checkPickedFile(picked, ctx, opts.force);
  if (artifact.kind === 'qdrant-full') throw fullSnapshotRestoreError(artifact.file, path);
  const target = opts.as ?? artifact.name;
  const serverVersion = await api.version();
  const incompatible = artifact.serverVersion
    ? restoreIncompatibility(artifact.serverVersion, serverVersion)
    : undefined;
  if (incompatible && !opts.force)
    throw new QnbError('E_REFUSED', `qdrant: ${incompatible}`, { hint: 'pass --force to try anyway' });
  if (incompatible) ctx.reporter.emit({ type: 'warning', target: 'qdrant', message: incompatible });
  await refuseAliasTarget(api, target);
  const exists = await api.collectionExists(target);
  if (exists && !opts.yes) {
    throw new QnbError('E_REFUSED', `qdrant: collection "${target}" exists and would be overwritten`, {
      hint: `re-run with --yes (qnb takes a safety snapshot of "${target}" first), or restore beside it with --as NEW_NAME`,
    });
  }
  let safetySetId: string | undefined;
  if (exists) safetySetId = await safetyBackup(deps, target, serverVersion);
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: target,
    message: `restoring ${artifact.file} into "${target}"`,
  });
  const report = await restoreQdrantCollection(api, artifact, path, ctx, {
    as: target,
    targetExists: exists,
    ...(safetySetId
      ? {
          safetyNote: `its safety backup is set ${safetySetId}: qnb restore-qdrant --latest --collection ${target}`,
        }
      : {}),
  });
  return { report, artifact, ...(safetySetId ? { safetySetId } : {}) };
}

async function safetyBackup(deps: RestoreDeps, collection: string, version: string): Promise<string> {
  const { repository, ctx } = deps;
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: collection,
    message: `safety snapshot of "${collection}" before overwriting it`,
  });
  const set = await startSet(repository, 'restore-qdrant (safety backup)', ctx.now(), 'pre-restore');
  try {
    await backupQdrantScope(deps.api, collection, version, createSetSink(repository, set, ctx.now), ctx, {
      keepServerSnapshot: deps.keepServerSnapshots,
    });
  } catch (err) {
    const e = toQnbError(err, ctx.signal);
    set.errors.push({ target: 'qdrant', name: collection, code: e.code, message: e.message });
    await finishSet(repository, set, ctx.now(), 'failed');
    throw new QnbError(
      e.code,
      `safety snapshot of "${collection}" failed, so nothing was restored: ${e.message}`,
      { hint: e.hint, cause: e },
    );
  }
  await finishSet(repository, set, ctx.now());
  return set.id;
}
