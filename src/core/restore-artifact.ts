/**
 * `qnb restore-<target> [FILE|--latest] [--from DESTINATION]`: one artifact back into its
 * database. With `--from`, the artifact is first brought back from the copy destination into the
 * backups folder (verified); then it is picked, the target's refusals run (names, versions,
 * overwriting without --yes), it is re-hashed against its manifest (unless it was fetched and
 * verified just now) and handed to its target, which makes its own checks and safety backup.
 */
import type { CopyBackend } from '../storage/backend.js';
import type { RestoreReport, Target, TargetContext } from '../targets/target.js';
import type { ArtifactRecord } from './manifest.js';
import { type FetchResult, fetchArtifact } from './remote-fetch.js';
import { displayBase } from './remote-scan.js';
import type { Repository } from './repository.js';
import { checkPickedFile, pickArtifact } from './selector.js';

/** Which backups a restore takes: one artifact of a target (file or latest), or a set (id or latest). */
export interface RestoreSelector {
  /** A backup file (path, or name inside the backups folder or on the copy destination). */
  file?: string;
  /** A backup set id (`restore` without `kind`). */
  setId?: string;
  /** The newest valid backup (of `name`), or the newest complete set. */
  latest?: boolean;
  /** The collection/database whose newest backup to take, or that a foreign `--force`d file holds. */
  name?: string;
}

/** What `manager.restore` takes. */
export interface RestoreRequest {
  /** One artifact of this target (`restore-qdrant`, `restore-neo4j`); without it, a whole set. */
  kind?: Target['kind'];
  selector: RestoreSelector;
  /** Copy destination to bring the backup back from first (verified against its manifest). */
  from?: CopyBackend;
  /** Restore under a new name (Qdrant collections). */
  as?: string;
  /** Allow overwriting what holds data (a safety backup is taken first). */
  yes?: boolean;
  /** Restore a file without a valid manifest entry, or across incompatible versions. */
  force?: boolean;
  /** One artifact: print the target's restore plan, change nothing (`restore-qdrant --dry-run`). */
  dryRun?: boolean;
  /** Folder relative paths are resolved against. */
  cwd?: string;
}

/** What a single-artifact restore did. */
export interface ArtifactRestoreResult {
  report: RestoreReport;
  artifact: ArtifactRecord;
  /** The set holding what was overwritten. */
  safetySetId?: string;
  /** With `from`: what was brought back. */
  fetch?: FetchResult;
}

/** Restores one artifact of `target`. Call while holding the repository lock. */
export async function restoreArtifact(
  deps: { repository: Repository; ctx: TargetContext; identities?: readonly string[] },
  target: Target,
  req: RestoreRequest,
): Promise<ArtifactRestoreResult> {
  const { repository, ctx } = deps;
  const sel = { ...req.selector, ...(req.cwd ? { cwd: req.cwd } : {}), force: req.force };
  const spec = target.pickSpec(sel);
  let fetch: FetchResult | undefined;
  if (req.from) {
    fetch = await fetchArtifact(
      repository,
      req.from,
      displayBase(req.from),
      {
        target: target.kind,
        kinds: [...target.restoreKinds],
        ...(spec.nameFlag ? { nameFlag: spec.nameFlag } : {}),
        command: spec.command,
        ...(sel.file ? { file: sel.file } : { latest: sel.latest, name: target.defaultName(sel) }),
      },
      ctx,
      deps.identities,
    );
    sel.file = fetch.file;
    sel.latest = false;
  }
  // --latest takes the target's default name (Neo4j: NEO4J_DATABASE, the one it restores into)
  const name = target.defaultName(sel);
  const picked = await pickArtifact(repository, { ...sel, ...(name ? { name } : {}) }, spec);
  const opts = { as: req.as, yes: req.yes, force: req.force, dryRun: req.dryRun };
  // refusals first: a restore that would be refused does not wait for a full read of the file
  await target.restoreRefusals?.(picked.artifact, picked.path, opts);
  // a file fetched just now was hashed as it was written and checked against its manifest
  const fetchedNow = fetch?.fetched === true && picked.artifact.file === fetch.file;
  const { artifact, path } = fetchedNow ? picked : await checkPickedFile(picked, ctx, req.force);
  const out = await target.restore(artifact, path, opts, ctx);
  return {
    report: out.report,
    artifact,
    ...(out.safetySetId ? { safetySetId: out.safetySetId } : {}),
    ...(fetch ? { fetch } : {}),
  };
}
