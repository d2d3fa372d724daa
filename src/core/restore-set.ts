/**
 * `qnb restore SET`: brings every store of one backup set back to the same point. Everything
 * that can be checked is checked before anything is touched (file hashes, versions, what would
 * be overwritten: each target's `planRestore`); a safety set of the current state is taken first;
 * then each artifact is restored and verified by its target. If a step fails, the report says
 * which state each store is in and how to get back (the safety set's id).
 */
import type { CopyBackend } from '../storage/backend.js';
import type { RestorePlan, Target, TargetContext } from '../targets/target.js';
import {
  isAbort,
  joinCleanupError,
  NotFoundError,
  QnbError,
  SafetyBackupError,
  toQnbError,
} from './errors.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import { type FetchResult, fetchSet } from './remote-fetch.js';
import { displayBase } from './remote-scan.js';
import type { RepoScan, Repository } from './repository.js';
import { checkPickedFile } from './selector.js';
import { checkRestoredLinks, type RestoredLink } from './set-guards.js';
import { createSetSink, failSafetySet, finishSet, startSet } from './set-lifecycle.js';

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
  /** Error code of a failed step (`E_VERIFY`: restored, but not what was backed up). */
  code?: string;
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
  /** The links between the stores, read again after every store was restored. */
  links?: RestoredLink[];
  /** With `from`: what was brought back. */
  fetched?: FetchResult[];
}

interface Deps {
  repository: Repository;
  ctx: TargetContext;
  targets: readonly Target[];
  identities?: readonly string[];
}

/**
 * The set to restore: the one named, or with --latest the newest backup set all of whose
 * completed artifacts are valid by the one rule `list` uses (judgeArtifacts: complete, the file
 * there with its size, no verification recorded as failed), preferring one that covers every
 * target.
 */
async function pickSet(
  repo: Repository,
  scan: RepoScan,
  targets: readonly Target[],
  opts: RestoreSetOptions,
): Promise<SetManifest> {
  if (opts.setId) return repo.loadSet(opts.setId);
  if (!opts.latest)
    throw new QnbError('E_USAGE', 'restore: name a backup SET id or pass --latest', {
      hint: 'run `qnb list --json` to see set ids',
    });
  const invalid = new Set(scan.artifacts.filter((a) => !a.valid).map((a) => a.set.id));
  const sets = scan.sets
    .filter((s) => s.reason === 'backup' && s.status === 'ok' && s.artifacts.some((a) => a.status === 'ok'))
    .filter((s) => !invalid.has(s.id))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const complete =
    sets.find((s) => targets.every((t) => s.artifacts.some((a) => a.target === t.kind))) ?? sets[0];
  if (!complete)
    throw new NotFoundError(
      `no complete, valid backup set in ${repo.root}`,
      'run `qnb list` to see what is there',
    );
  return complete;
}

/**
 * A named set's artifacts that `list` marks NOT VALID (a failed verification, a missing or
 * resized file): refused before anything is touched, or with --force restored with a warning.
 */
function refuseInvalid(
  set: SetManifest,
  scan: RepoScan,
  ctx: TargetContext,
  force: boolean | undefined,
): void {
  const bad = scan.artifacts.filter((a) => a.set.id === set.id && a.artifact.status === 'ok' && !a.valid);
  if (bad.length === 0) return;
  const what = bad.map((a) => `${a.artifact.file} (${a.problem})`).join('; ');
  if (!force)
    throw new QnbError('E_REFUSED', `backup set ${set.id} is not valid: ${what}; nothing was restored`, {
      hint: 'restore an older set (`qnb list`), or pass --force to restore it anyway',
    });
  for (const a of bad)
    ctx.reporter.emit({
      type: 'warning',
      target: a.artifact.target,
      name: a.artifact.name,
      message: `${a.artifact.file} is not valid (${a.problem}); restoring it anyway (--force)`,
    });
}

/** Each target's restore plan; refuses (writes nothing) when one would overwrite data without `yes`. */
async function planAll(
  targets: readonly Target[],
  artifacts: ArtifactRecord[],
  setId: string,
  opts: RestoreSetOptions,
  ctx: TargetContext,
): Promise<{ plans: Map<Target, RestorePlan>; overwrites: string[] }> {
  const plans = new Map<Target, RestorePlan>();
  const overwrites: string[] = [];
  for (const t of targets) {
    const ours = artifacts.filter((a) => a.target === t.kind);
    if (ours.length === 0) continue;
    const plan = await t.planRestore(ours, { force: opts.force }, ctx);
    plans.set(t, plan);
    overwrites.push(...plan.overwrites);
  }
  if (overwrites.length && !opts.yes) {
    throw new QnbError('E_REFUSED', `restore ${setId} would overwrite: ${overwrites.join('; ')}`, {
      hint: 're-run with --yes (a safety backup set of the current state is taken first)',
    });
  }
  return { plans, overwrites };
}

/** Restores a whole backup set; with `from`, brings it back from that copy destination first. */
export async function restoreSet(
  deps: Deps,
  opts: RestoreSetOptions,
  from?: CopyBackend,
): Promise<RestoreSetResult> {
  if (!from) return restoreLocalSet(deps, opts);
  const restorable = (a: ArtifactRecord) =>
    deps.targets.some((t) => t.kind === a.target && t.restoreKinds.includes(a.kind));
  const got = await fetchSet(
    deps.repository,
    from,
    displayBase(from),
    { ...opts, restorable },
    deps.ctx,
    deps.identities,
  );
  const fetchedNow = new Set(got.files.filter((f) => f.fetched).map((f) => f.file));
  const result = await restoreLocalSet(deps, { ...opts, setId: got.setId, latest: false }, fetchedNow);
  return { ...result, fetched: got.files };
}

async function restoreLocalSet(
  deps: Deps,
  opts: RestoreSetOptions,
  fetchedNow?: ReadonlySet<string>,
): Promise<RestoreSetResult> {
  const { repository, ctx } = deps;
  const scan = await repository.scan();
  const set = await pickSet(repository, scan, deps.targets, opts);
  refuseInvalid(set, scan, ctx, opts.force);
  const targetOf = (a: ArtifactRecord) => deps.targets.find((t) => t.kind === a.target);
  const artifacts = set.artifacts.filter(
    (a) => a.status === 'ok' && targetOf(a)?.restoreKinds.includes(a.kind),
  );
  if (artifacts.length === 0) throw new NotFoundError(`backup set ${set.id} holds nothing restorable`);
  // 1. what exists now, version checks: refused before any file is read, and planned again after
  // the files are checked, so the plan is of the state right before the safety backup
  await planAll(deps.targets, artifacts, set.id, opts, ctx);
  // 2. every file intact before anything is touched (a file fetched just now was checked as it came)
  const files = new Map<ArtifactRecord, string>();
  for (const a of artifacts) {
    const picked = { artifact: a, path: repository.resolve(a.file), trusted: true };
    const checked = fetchedNow?.has(a.file) ? picked : await checkPickedFile(picked, ctx, opts.force);
    files.set(a, checked.path);
  }
  const { plans, overwrites } = await planAll(deps.targets, artifacts, set.id, opts, ctx);
  // 3. safety set of everything that will be overwritten. A target may take its part within its
  // restore, right before it overwrites (`safetyAtRestore`: a Neo4j dump and its load share one
  // stop, so nothing written in between is lost); the set is finished once that part is in
  let safetySetId: string | undefined;
  let openSafety: SetManifest | undefined;
  if (overwrites.length) {
    const safety = await startSet(repository, `restore ${set.id} (safety backup)`, ctx.now(), 'pre-restore');
    const sink = createSetSink(repository, safety, ctx.now);
    let current = deps.targets[0]!;
    try {
      for (const [t, plan] of plans) {
        current = t;
        if (plan.overwrites.length) await t.safetyBackup(plan, sink, ctx);
      }
    } catch (err) {
      throw await failSafetySet(
        repository,
        safety,
        { target: current.kind, name: '*' },
        'safety backup',
        err,
        ctx.now(),
        ctx.signal,
      );
    }
    const pending = new Set([...plans.values()].filter((p) => p.safetyAtRestore));
    for (const plan of pending)
      plan.safetyTaken = async () => {
        pending.delete(plan);
        if (pending.size === 0) await finishSet(repository, safety, ctx.now());
      };
    if (pending.size === 0) await finishSet(repository, safety, ctx.now());
    else openSafety = safety;
    safetySetId = safety.id;
  }
  // 4. restore, stopping at the first failure. A store whose safety part is taken at its restore
  // goes first: if that part fails, nothing at all was restored
  const first = (a: ArtifactRecord) => (plans.get(targetOf(a)!)?.safetyAtRestore ? 0 : 1);
  const ordered = [...artifacts].sort((x, y) => first(x) - first(y));
  const steps: RestoreStep[] = ordered.map((a) => ({
    target: a.target,
    name: a.name,
    file: a.file,
    state: 'untouched',
  }));
  let stopped: { target: Target['kind']; err: unknown } | undefined;
  // a safety part never taken (its restore stopped before it): the set holds what it holds, and
  // says why it has no more; a failure to save it never hides the restore's own outcome
  const finishOpenSafety = async () => {
    if (openSafety?.status !== 'running') return;
    const e = stopped && toQnbError(stopped.err, ctx.signal);
    if (stopped && e)
      openSafety.errors.push({ target: stopped.target, name: '*', code: e.code, message: e.message });
    await finishSet(
      repository,
      openSafety,
      ctx.now(),
      e?.code === 'E_INTERRUPTED' ? 'interrupted' : undefined,
    );
  };
  try {
    for (const [i, a] of ordered.entries()) {
      const step = steps[i]!;
      const t = targetOf(a)!;
      try {
        await t.restore(a, files.get(a)!, { plan: plans.get(t)! }, ctx);
        step.state = 'restored';
      } catch (err) {
        stopped = { target: t.kind, err };
        if (isAbort(err, ctx.signal)) throw err;
        // its safety part failed, so this store was not touched: nothing at all when none was before
        if (err instanceof SafetyBackupError && openSafety && steps.every((s) => s.state === 'untouched')) {
          const failed = openSafety;
          openSafety = undefined;
          throw await failSafetySet(
            repository,
            failed,
            { target: t.kind, name: '*' },
            'safety backup',
            err,
            ctx.now(),
            ctx.signal,
          );
        }
        const e = toQnbError(err, ctx.signal);
        step.state = err instanceof SafetyBackupError ? 'untouched' : 'failed';
        step.detail = err instanceof SafetyBackupError ? `its safety backup failed: ${e.message}` : e.message;
        step.code = e.code;
        break;
      }
    }
  } catch (err) {
    await finishOpenSafety().catch((e) => joinCleanupError(err, e));
    throw err;
  }
  await finishOpenSafety().catch((e) => {
    if (!stopped) throw e;
    joinCleanupError(stopped.err, e);
  });
  const restored = steps.every((s) => s.state === 'restored');
  // 5. the pair: each link's keys read again, against the manifest's
  const links = restored ? await checkRestoredLinks(set, deps.targets, ctx) : [];
  return {
    setId: set.id,
    ok: restored && links.every((l) => l.ok),
    ...(links.length ? { links } : {}),
    steps,
    overwrites,
    ...(safetySetId ? { safetySetId } : {}),
  };
}
