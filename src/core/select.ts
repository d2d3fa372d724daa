/**
 * Finding artifacts in the repository by what a user typed: a path, a file name or a set id.
 */
import { basename, resolve } from 'node:path';
import type { RepoArtifact, RepoScan } from './repository.js';

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
