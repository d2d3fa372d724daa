/**
 * `qnb verify`: re-hash artifact files against their manifests and record the result; with
 * `--deep`, each artifact's target also restores it somewhere harmless and compares (a drill).
 */
import type { DrillChecks, DrillOutcome, Target, TargetContext } from '../targets/target.js';
import { type ErrorCode, isNoSpace, joinCleanupError, NotFoundError, toQnbError } from './errors.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import type { RepoArtifact, Repository } from './repository.js';
import { findByFile, findBySet } from './selector.js';
import { hashFile } from './transfer.js';

/** One checked file. */
export interface VerifyItem {
  file: string;
  target: string;
  name: string;
  setId: string;
  ok: boolean;
  /** True when a restore drill ran (verify --deep). */
  deep: boolean;
  detail?: string;
  /** Why no drill ran for this artifact. */
  note?: string;
}

/**
 * Restore drill of one artifact whose file hash already matched (`verify --deep`): its target
 * restores it somewhere harmless and compares. A failure is the outcome's detail, not an error.
 */
async function drillArtifact(
  a: ArtifactRecord,
  path: string,
  targets: readonly Target[],
  ctx: TargetContext,
  set: SetManifest,
): Promise<DrillOutcome> {
  // the keys of each link side this artifact holds, as its set recorded them
  const links: DrillChecks['links'] = [];
  for (const rec of set.links ?? []) {
    const side = rec[a.target];
    if (!rec.spec || !side || (a.target === 'qdrant' && rec.spec.qdrant.collection !== a.name)) continue;
    links.push({ link: { name: rec.name, maxOrphans: rec.maxOrphans, ...rec.spec }, digest: side.digest });
  }
  try {
    const target = targets.find((t) => t.kind === a.target);
    if (!target) return { skipped: `no restore drill for ${a.kind} (no ${a.target} target)` };
    return await target.drill(a, path, ctx, { links });
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    // the database could not be reached or refused qnb: that says nothing of the backup, which
    // must not be marked failed (list, restore --latest and copy would pass over a good file)
    if (
      ENVIRONMENT.includes(toQnbError(err).code) ||
      isNoSpace(err) ||
      /no space left on device/i.test(String(err))
    )
      throw err;
    return { detail: (err as Error).message };
  }
}

/**
 * Drill errors that come from where the drill runs, not from the backup: the database, the
 * lock, the local file system (the file was hashed just before; a full disk under a scratch
 * Neo4j says nothing of the dump).
 */
const ENVIRONMENT: ErrorCode[] = [
  'E_CONNECT',
  'E_AUTH',
  'E_CONFIG',
  'E_USAGE',
  'E_INTERRUPTED',
  'E_IO',
  'E_LOCKED',
];

/** Result of verify. */
export interface VerifyResult {
  ok: boolean;
  items: VerifyItem[];
}

/**
 * Re-hashes the selected artifacts (all when no selector), lets each artifact's target check the
 * file's structure (`checkFile`), drills them when `drill` (`--deep`), and records the results in their manifests.
 */
export async function verifyArtifacts(
  repo: Repository,
  selector: string | undefined,
  ctx: TargetContext,
  targets: readonly Target[],
  drill = false,
): Promise<VerifyResult> {
  const scan = await repo.scan();
  let chosen: RepoArtifact[];
  if (!selector) chosen = scan.artifacts.filter((a) => a.artifact.status === 'ok');
  else {
    chosen = findBySet(scan, selector);
    if (chosen.length === 0) chosen = findByFile(scan, selector, process.cwd());
    if (chosen.length === 0) {
      throw new NotFoundError(
        `${selector}: not a backup set id or a file in any backup manifest`,
        'run `qnb list` to see the backups',
      );
    }
  }
  const items: VerifyItem[] = [];
  const touched = new Set<string>();
  let failure: unknown;
  try {
    await verifyEach(chosen, items, touched, ctx, targets, drill);
  } catch (err) {
    failure = err;
  }
  // what was found is recorded even when a drill could not reach its database and ended the run
  for (const set of scan.sets.filter((s) => touched.has(s.id))) {
    try {
      await repo.saveSet(set);
    } catch (err) {
      if (failure === undefined) failure = err;
      else joinCleanupError(failure, err);
    }
  }
  if (failure !== undefined) throw failure;
  return { ok: items.every((i) => i.ok), items };
}

/** Hashes, checks and drills `chosen` in turn, into `items`; the sets of changed entries go into `touched`. */
async function verifyEach(
  chosen: RepoArtifact[],
  items: VerifyItem[],
  touched: Set<string>,
  ctx: TargetContext,
  targets: readonly Target[],
  drill: boolean,
): Promise<void> {
  for (const a of chosen) {
    const base = { file: a.artifact.file, target: a.artifact.target, name: a.artifact.name, setId: a.set.id };
    let detail: string | undefined;
    if (a.artifact.status !== 'ok') detail = 'incomplete manifest entry (interrupted run)';
    else {
      ctx.reporter.emit({
        type: 'step',
        target: a.artifact.target,
        name: a.artifact.name,
        message: `verifying ${a.artifact.file}`,
      });
      try {
        const got = await hashFile(a.path, { signal: ctx.signal });
        if (got.bytes !== a.artifact.bytes)
          detail = `size ${got.bytes} differs from the manifest's ${a.artifact.bytes}`;
        else if (got.sha256 !== a.artifact.sha256)
          detail = 'sha256 differs from the manifest (file is corrupt)';
        // a file that is not what its kind says (e.g. a "dump" with a warning in front, from older qnb)
        else await targets.find((t) => t.kind === a.artifact.target)?.checkFile?.(a.artifact, a.path);
      } catch (err) {
        if (ctx.signal?.aborted) throw err;
        detail = err instanceof NotFoundError ? 'file missing' : (err as Error).message;
      }
    }
    let deep = false;
    let note: string | undefined;
    const started = Date.now();
    if (!detail && drill) {
      const outcome = await drillArtifact(a.artifact, a.path, targets, ctx, a.set);
      deep = !outcome.skipped;
      detail = outcome.detail;
      note = outcome.skipped;
    }
    items.push({ ...base, ok: !detail, deep, ...(detail ? { detail } : {}), ...(note ? { note } : {}) });
    a.artifact.verification = {
      at: ctx.now().toISOString(),
      ok: !detail,
      deep,
      ...(deep ? { durationMs: Date.now() - started } : {}),
      ...(detail ? { detail } : {}),
    };
    touched.add(a.set.id);
  }
}
