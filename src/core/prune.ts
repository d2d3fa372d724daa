/**
 * Applies the retention plan to the backups folder (guarantee 4): only files that a manifest
 * references and that lie inside the backups folder are ever deleted; the newest valid backup
 * of every target is kept by the planner; unknown files are reported, never touched.
 * The manifest entry is removed (moved to `pruned`) before the file, so a crash in between
 * leaves an unknown file, never a valid-looking entry without its file.
 */
import { rm } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import type { TargetContext } from '../targets/target.js';
import type { SetManifest } from './manifest.js';
import type { RepoArtifact, Repository } from './repository.js';
import {
  planRetention,
  type RetentionDecision,
  type RetentionPlan,
  type RetentionPolicy,
  retentionGroup,
} from './retention.js';

/** Options of prune. */
export interface PruneOptions {
  policy: RetentionPolicy;
  dryRun?: boolean;
  timeZone?: string;
}

/** What prune decided and did. */
export interface PruneResult {
  dryRun: boolean;
  decisions: (RetentionDecision & { bytes: number })[];
  removed: string[];
  freedBytes: number;
  unknownFiles: string[];
}

/**
 * The retention plan over a set of artifacts (local or remote). Safety backups taken before a
 * restore and pre-command backups of `qnb run` are kept by their own count, not mixed with
 * regular ones.
 */
export function planFor(
  artifacts: readonly RepoArtifact[],
  ctx: TargetContext,
  opts: PruneOptions,
): RetentionPlan {
  const entries = artifacts
    .filter((a) => a.artifact.status === 'ok')
    .map((a) => ({
      id: a.artifact.file,
      group: `${retentionGroup(a.artifact)}${a.set.reason === 'pre-restore' ? ':safety' : a.set.reason === 'pre-command' ? ':pre-command' : ''}`,
      createdAt: a.createdAt,
      valid: a.valid,
    }));
  return planRetention(entries, opts.policy, ctx.now(), opts.timeZone ? { timeZone: opts.timeZone } : {});
}

/** Plans retention over the repository and (unless dryRun) deletes what the plan removes. */
export async function pruneRepository(
  repo: Repository,
  ctx: TargetContext,
  opts: PruneOptions,
): Promise<PruneResult> {
  const scan = await repo.scan();
  const plan = planFor(scan.artifacts, ctx, opts);
  const byFile = new Map(scan.artifacts.map((a) => [a.artifact.file, a]));
  const decisions = plan.decisions.map((d) => ({ ...d, bytes: byFile.get(d.id)?.artifact.bytes ?? 0 }));
  const result: PruneResult = {
    dryRun: Boolean(opts.dryRun),
    decisions,
    removed: [],
    freedBytes: 0,
    unknownFiles: scan.unknownFiles,
  };
  if (opts.dryRun) return result;
  const touched = new Map<string, SetManifest>();
  for (const file of plan.remove) {
    const a = byFile.get(file);
    if (!a) continue;
    const rel = relative(repo.root, a.path);
    if (rel.startsWith('..') || rel.startsWith(sep) || rel === '') continue; // never outside the backups folder
    const set = a.set as SetManifest & { pruned?: { file: string; at: string }[] };
    set.artifacts = set.artifacts.filter((x) => x.file !== file);
    set.pruned = [...(set.pruned ?? []), { file, at: ctx.now().toISOString() }];
    await repo.saveSet(set);
    touched.set(set.id, set);
    await rm(a.path, { force: true });
    ctx.reporter.emit({
      type: 'step',
      target: a.artifact.target,
      name: a.artifact.name,
      message: `pruned ${file}`,
    });
    result.removed.push(file);
    result.freedBytes += a.artifact.bytes;
  }
  return result;
}
