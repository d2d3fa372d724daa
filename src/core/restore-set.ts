/**
 * `qnb restore SET`: brings every store of one backup set back to the same point. Everything
 * that can be checked is checked before anything is touched (file hashes, versions, what would
 * be overwritten: each target's `planRestore`); a safety set of the current state is taken first;
 * then each artifact is restored and verified by its target. If a step fails, the report says
 * which state each store is in and how to get back (the safety set's id).
 */
import type { CopyBackend } from '../storage/backend.js';
import type { RestorePlan, Target, TargetContext } from '../targets/target.js';
import { isAbort, NotFoundError, QnbError, toQnbError } from './errors.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import { type FetchResult, fetchSet } from './remote-fetch.js';
import { displayBase } from './remote-scan.js';
import type { Repository } from './repository.js';
import { checkPickedFile } from './selector.js';
import { createSetSink, finishSet, startSet } from './set-lifecycle.js';

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
  /** With `from`: what was brought back. */
  fetched?: FetchResult[];
}

interface Deps {
  repository: Repository;
  ctx: TargetContext;
  targets: readonly Target[];
  identities?: readonly string[];
}

async function pickSet(
  repo: Repository,
  targets: readonly Target[],
  opts: RestoreSetOptions,
): Promise<SetManifest> {
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
    sets.find((s) => targets.every((t) => s.artifacts.some((a) => a.target === t.kind))) ?? sets[0];
  if (!complete)
    throw new NotFoundError(`no complete backup set in ${repo.root}`, 'run `qnb backup-all` first');
  return complete;
}

/** Restores a whole backup set; with `from`, brings it back from that copy destination first. */
export async function restoreSet(
  deps: Deps,
  opts: RestoreSetOptions,
  from?: CopyBackend,
): Promise<RestoreSetResult> {
  if (!from) return restoreLocalSet(deps, opts);
  const got = await fetchSet(deps.repository, from, displayBase(from), opts, deps.ctx, deps.identities);
  const result = await restoreLocalSet(deps, { ...opts, setId: got.setId, latest: false });
  return { ...result, fetched: got.files };
}

async function restoreLocalSet(deps: Deps, opts: RestoreSetOptions): Promise<RestoreSetResult> {
  const { repository, ctx } = deps;
  const set = await pickSet(repository, deps.targets, opts);
  const targetOf = (a: ArtifactRecord) => deps.targets.find((t) => t.kind === a.target);
  const artifacts = set.artifacts.filter(
    (a) => a.status === 'ok' && targetOf(a)?.restoreKinds.includes(a.kind),
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
  const plans = new Map<Target, RestorePlan>();
  const overwrites: string[] = [];
  for (const t of deps.targets) {
    const ours = artifacts.filter((a) => a.target === t.kind);
    if (ours.length === 0) continue;
    const plan = await t.planRestore(ours, { force: opts.force }, ctx);
    plans.set(t, plan);
    overwrites.push(...plan.overwrites);
  }
  if (overwrites.length && !opts.yes) {
    throw new QnbError('E_REFUSED', `restore ${set.id} would overwrite: ${overwrites.join('; ')}`, {
      hint: 're-run with --yes (a safety backup set of the current state is taken first)',
    });
  }
  // 3. safety set of everything that will be overwritten
  let safetySetId: string | undefined;
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
      const e = toQnbError(err, ctx.signal);
      safety.errors.push({ target: current.kind, name: '*', code: e.code, message: e.message });
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
    const t = targetOf(a)!;
    try {
      await t.restore(a, files.get(a)!, { plan: plans.get(t)! }, ctx);
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
