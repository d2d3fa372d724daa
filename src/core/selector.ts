/**
 * Selectors: what a user typed to name backups (a path, a file name or a set id), resolved
 * against a repository scan. Also picks the artifact a restore works on: a named file (which must
 * have a valid manifest entry unless --force) or the newest valid backup of a target.
 */
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { PickSpec, TargetContext } from '../targets/target.js';
import { NotFoundError, QnbError, VerificationError } from './errors.js';
import type { ArtifactRecord } from './manifest.js';
import type { RepoArtifact, RepoScan, Repository } from './repository.js';
import { hashFile } from './transfer.js';

/** Artifacts whose file matches `arg` (absolute/relative path, path inside the backups folder, or name). */
export function findByFile(scan: RepoScan, arg: string, cwd: string): RepoArtifact[] {
  const abs = resolve(cwd, arg);
  const norm = arg.replace(/\\/g, '/');
  return scan.artifacts.filter(
    (a) =>
      a.path === abs ||
      a.artifact.file === norm ||
      (!norm.includes('/') && basename(a.artifact.file) === norm),
  );
}

/** Artifacts of the set with id `id`. */
export function findBySet(scan: RepoScan, id: string): RepoArtifact[] {
  return scan.artifacts.filter((a) => a.set.id === id);
}

/** What the user asked for. */
export interface PickOptions {
  file?: string;
  latest?: boolean;
  /** Restrict --latest to this collection/database. */
  name?: string;
  force?: boolean;
  cwd?: string;
}

/** What kind of artifact a command restores. */
export type { PickSpec };

/** The chosen artifact; `trusted` is false for a --force'd file outside any valid manifest entry. */
export interface Picked {
  artifact: ArtifactRecord;
  path: string;
  trusted: boolean;
}

/** Picks the artifact or throws one clear error. */
export async function pickArtifact(repo: Repository, opts: PickOptions, spec: PickSpec): Promise<Picked> {
  const scan = await repo.scan();
  const ours = scan.artifacts.filter((a) => a.artifact.target === spec.target);
  const cwd = opts.cwd ?? process.cwd();
  if (opts.file) {
    const found = findByFile({ ...scan, artifacts: ours }, opts.file, cwd);
    const hit = found.find((a) => a.valid) ?? found[0];
    if (hit?.valid) return { artifact: hit.artifact, path: hit.path, trusted: true };
    const path = hit?.path ?? resolve(cwd, opts.file);
    if (!hit && !(await stat(path).catch(() => undefined))?.isFile()) {
      throw new NotFoundError(`${opts.file}: no such backup file`, 'run `qnb list` to see the backups');
    }
    const why = hit ? `its manifest entry is not valid (${hit.problem})` : 'it is not in any backup manifest';
    if (!opts.force) {
      throw new QnbError(
        'E_REFUSED',
        `${opts.file}: refusing to restore: ${why}, so qnb cannot prove it is complete`,
        {
          hint: `pass --force (and ${spec.nameFlag} NAME) to restore it anyway`,
        },
      );
    }
    return { artifact: await spec.untrusted(path), path, trusted: false };
  }
  if (!opts.latest) {
    throw new QnbError('E_USAGE', `${spec.command}: name a backup FILE or pass --latest`, {
      hint: 'run `qnb list` to see the backups',
    });
  }
  const candidates = ours.filter((a) => a.valid && spec.kinds.includes(a.artifact.kind));
  const pool = opts.name ? candidates.filter((a) => a.artifact.name === opts.name) : candidates;
  if (pool.length === 0) {
    const what = spec.target === 'qdrant' ? 'Qdrant backup' : 'Neo4j backup';
    throw new NotFoundError(
      `no valid ${what}${opts.name ? ` of "${opts.name}"` : ''} in ${repo.root}`,
      'run `qnb list` to see what is there',
    );
  }
  const names = [...new Set(pool.map((a) => a.artifact.name))];
  if (names.length > 1) {
    throw new QnbError(
      'E_USAGE',
      `${spec.command} --latest: backups of several exist (${names.join(', ')})`,
      {
        hint: `pick one with ${spec.nameFlag} NAME`,
      },
    );
  }
  return { artifact: pool[0]!.artifact, path: pool[0]!.path, trusted: true };
}

/**
 * Re-hashes a trusted artifact's file against its manifest. A mismatch stops the restore before
 * anything is touched — unless `force`, which goes on with the file as it is (warning, and the
 * record's hash replaced by the file's, so the server-side checksum check matches what is sent).
 */
export async function checkPickedFile(
  picked: Picked,
  ctx: TargetContext,
  force: boolean | undefined,
): Promise<Picked> {
  if (!picked.trusted) return picked;
  const { artifact, path } = picked;
  ctx.reporter.emit({
    type: 'step',
    target: artifact.target,
    name: artifact.name,
    message: `checking ${artifact.file} against its manifest`,
  });
  const local = await hashFile(path, { signal: ctx.signal });
  if (local.sha256 === artifact.sha256 && local.bytes === artifact.bytes) return picked;
  if (!force) {
    throw new VerificationError(
      `${artifact.file}: file is corrupt (sha256 or size differs from the manifest); nothing was restored`,
      'restore an older backup: `qnb list`',
    );
  }
  ctx.reporter.emit({
    type: 'warning',
    target: artifact.target,
    name: artifact.name,
    message: `${artifact.file} differs from its manifest; restoring it anyway (--force)`,
  });
  return { path, trusted: false, artifact: { ...artifact, sha256: local.sha256, bytes: local.bytes } };
}

/** A record for a file outside any manifest (only used with --force): our own hash, no counts. */
export async function untrustedRecord(
  path: string,
  target: ArtifactRecord['target'],
  kind: ArtifactRecord['kind'],
  name: string,
): Promise<ArtifactRecord> {
  const s = await stat(path).catch(() => undefined);
  if (!s?.isFile()) throw new NotFoundError(`${path}: no such file`, 'run `qnb list` to see the backups');
  const { sha256, bytes } = await hashFile(path);
  const now = new Date().toISOString();
  return {
    target,
    kind,
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
