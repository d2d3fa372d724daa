/**
 * restore-qdrant: pick the artifact, prove the file is intact, check the server can take it,
 * refuse to overwrite without --yes, take a safety backup of what would be overwritten, then
 * restore and verify (guarantee 6).
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { backupQdrantScope } from '../targets/qdrant/qdrant-backup.js';
import { type QdrantRestoreReport, restoreQdrantCollection } from '../targets/qdrant/qdrant-restore.js';
import { restoreIncompatibility } from '../targets/qdrant/qdrant-version.js';
import type { TargetContext } from '../targets/target.js';
import { NotFoundError, QnbError, toQnbError, VerificationError } from './errors.js';
import type { ArtifactRecord } from './manifest.js';
import type { RepoArtifact, Repository } from './repository.js';
import { createSetSink, finishSet, startSet } from './run.js';
import { findByFile } from './select.js';
import { hashFile } from './transfer.js';

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

async function pickArtifact(
  repo: Repository,
  opts: RestoreQdrantOptions,
): Promise<{ artifact: ArtifactRecord; path: string; trusted: boolean }> {
  const scan = await repo.scan();
  const qdrantOnly = (xs: RepoArtifact[]) => xs.filter((a) => a.artifact.target === 'qdrant');
  if (opts.file) {
    const found = qdrantOnly(findByFile(scan, opts.file, opts.cwd ?? process.cwd()));
    const hit = found.find((a) => a.valid) ?? found[0];
    if (hit?.valid) return { artifact: hit.artifact, path: hit.path, trusted: true };
    const path = hit?.path ?? resolve(opts.cwd ?? process.cwd(), opts.file);
    if (!hit && !(await stat(path).catch(() => undefined))?.isFile()) {
      throw new NotFoundError(`${opts.file}: no such backup file`, 'run `qnb list` to see the backups');
    }
    const why = hit ? `its manifest entry is not valid (${hit.problem})` : 'it is not in any backup manifest';
    if (!opts.force) {
      throw new QnbError(
        'E_REFUSED',
        `${opts.file}: refusing to restore: ${why}, so qnb cannot prove it is complete`,
        {
          hint: 'pass --force (and --collection NAME) to restore it anyway',
        },
      );
    }
    return { artifact: await untrustedArtifact(path, opts), path, trusted: false };
  }
  if (!opts.latest)
    throw new QnbError('E_USAGE', 'restore-qdrant: name a snapshot FILE or pass --latest', {
      hint: 'run `qnb list` to see the backups',
    });
  const candidates = qdrantOnly(scan.artifacts).filter(
    (a) => a.valid && a.artifact.kind === 'qdrant-collection',
  );
  const pool = opts.collection ? candidates.filter((a) => a.artifact.name === opts.collection) : candidates;
  const names = [...new Set(pool.map((a) => a.artifact.name))];
  if (pool.length === 0) {
    throw new NotFoundError(
      `no valid Qdrant backup${opts.collection ? ` of collection "${opts.collection}"` : ''} in ${repo.root}`,
      'run `qnb backup-qdrant` first, or `qnb list` to see what is there',
    );
  }
  if (names.length > 1) {
    throw new QnbError(
      'E_USAGE',
      `restore-qdrant --latest: backups of several collections exist (${names.join(', ')})`,
      {
        hint: 'pick one with --collection NAME',
      },
    );
  }
  return { artifact: pool[0]!.artifact, path: pool[0]!.path, trusted: true };
}

async function untrustedArtifact(path: string, opts: RestoreQdrantOptions): Promise<ArtifactRecord> {
  const size = await stat(path).catch(() => undefined);
  if (!size?.isFile())
    throw new NotFoundError(`${opts.file}: no such file`, 'run `qnb list` to see the backups');
  const name = opts.collection ?? /^(.*)-backup-\d{8}-\d{6}(?:-\d+)?\.snapshot$/.exec(basename(path))?.[1];
  if (!name)
    throw new QnbError('E_USAGE', `${opts.file}: cannot tell which collection it holds`, {
      hint: 'pass --collection NAME',
    });
  const { sha256, bytes } = await hashFile(path);
  const now = new Date().toISOString();
  return {
    target: 'qdrant',
    kind: 'qdrant-collection',
    name,
    file: basename(path),
    status: 'ok',
    bytes,
    sha256,
    serverChecksum: null,
    checksumSource: 'self',
    serverVersion: '',
    counts: {},
    startedAt: now,
    finishedAt: now,
    durationMs: 0,
  };
}

/** Restores one Qdrant collection from a backup. */
export async function restoreQdrant(
  deps: RestoreDeps,
  opts: RestoreQdrantOptions,
): Promise<{ report: QdrantRestoreReport; safetySetId?: string; artifact: ArtifactRecord }> {
  const { api, repository, ctx } = deps;
  const { artifact, path, trusted } = await pickArtifact(repository, opts);
  if (artifact.kind === 'qdrant-full') {
    throw new QnbError(
      'E_UNSUPPORTED',
      `${artifact.file} is a full-storage snapshot; Qdrant has no API to restore one`,
      {
        hint: `start Qdrant with --storage-snapshot ${path}`,
      },
    );
  }
  const target = opts.as ?? artifact.name;
  if (trusted) {
    ctx.reporter.emit({
      type: 'step',
      target: 'qdrant',
      name: target,
      message: `checking ${artifact.file} against its manifest`,
    });
    const local = await hashFile(path, { signal: ctx.signal });
    if (local.sha256 !== artifact.sha256 || local.bytes !== artifact.bytes) {
      throw new VerificationError(
        `${artifact.file}: file is corrupt (sha256 or size differs from the manifest); nothing was restored`,
        'restore an older backup: `qnb list`',
      );
    }
  }
  const serverVersion = await api.version();
  const incompatible = artifact.serverVersion
    ? restoreIncompatibility(artifact.serverVersion, serverVersion)
    : undefined;
  if (incompatible && !opts.force)
    throw new QnbError('E_REFUSED', `qdrant: ${incompatible}`, { hint: 'pass --force to try anyway' });
  if (incompatible) ctx.reporter.emit({ type: 'warning', target: 'qdrant', message: incompatible });
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
