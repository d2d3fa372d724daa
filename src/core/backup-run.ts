/**
 * One backup set from target steps: the set is started, each step (one scope of one target)
 * backs up into it — a failed step is recorded and the next one runs, an abort marks the set
 * interrupted and stops — and the set is finished with its status. Used by the manager.
 * A target with `prepareBackup` has its next scopes' server-side part (Qdrant: the snapshot's
 * creation) start while the current scope transfers, up to its `backupsInFlight`; results,
 * errors and the manifest's order stay those of the steps one after another.
 */
import type { BackupRequest, Target, TargetContext } from '../targets/target.js';
import type { BackupCopyReport } from './backup-copy.js';
import { isAbort, toQnbError } from './errors.js';
import type { ArtifactRecord, HookRecord, LinkRecord, SetManifest, TargetKind } from './manifest.js';
import type { PruneResult } from './prune.js';
import type { Repository } from './repository.js';
import type { SetGuards } from './set-guards.js';
import { createSetSink, finishSet, startSet } from './set-lifecycle.js';

/** What a backup did. */
export interface BackupResult {
  setId: string;
  status: SetManifest['status'];
  artifacts: ArtifactRecord[];
  errors: SetManifest['errors'];
  durationMs: number;
  /** What retention did after the set (backupAll), or why it did not run. */
  retention?: PruneResult | { skipped: string };
  /** backupAll with `links`: the links between the stores and their orphans. */
  links?: LinkRecord[];
  /** The quiesce hooks that ran around the set. */
  hooks?: HookRecord[];
  /** With `copyTo` (backupAll): what the off-site copy did, or why it did not run. */
  copy?: BackupCopyReport | { skipped: string };
}

type SetSink = ReturnType<typeof createSetSink>;

/** A step whose server-side part is done: `run` does the rest, `release` undoes it. */
interface PreparedStep {
  run: (sink: SetSink) => Promise<unknown>;
  release: () => Promise<void>;
}

/** One step of a set: one scope of one target. */
export interface BackupStep {
  target: TargetKind;
  name: string;
  run: (sink: SetSink) => Promise<unknown>;
  /** Starts the server-side part ahead of the step's turn (Target.prepareBackup). */
  prepare?: () => Promise<PreparedStep>;
  /** Steps of this target in flight at once, this one included (Target.backupsInFlight). @default 1 */
  inFlight?: number;
}

/** The steps of one target: its preflight first, so nothing is written when it fails. */
export async function backupSteps(t: Target, req: BackupRequest, ctx: TargetContext): Promise<BackupStep[]> {
  const scopes = await t.preflight(req, ctx);
  const prepare = t.prepareBackup?.bind(t);
  return scopes.map((scope) => ({
    target: t.kind,
    name: scope.name,
    run: (sink) => t.backup(scope, sink, ctx),
    ...(prepare ? { prepare: () => prepare(scope, ctx), inFlight: t.backupsInFlight ?? 1 } : {}),
  }));
}

const NOTHING_TO_RELEASE = async () => {};

/**
 * Runs `steps` as one set recorded as `command`, inside `guards` (quiesce hooks; link keys read
 * right before each step; the after hook runs whatever happened).
 */
export async function runBackupSet(
  repository: Repository,
  ctx: TargetContext,
  command: string,
  reason: SetManifest['reason'],
  steps: BackupStep[],
  guards: SetGuards,
): Promise<BackupResult> {
  const started = Date.now();
  const set = await startSet(repository, command, ctx.now(), reason);
  const sink = createSetSink(repository, set, ctx.now);
  /** Steps prepared ahead of their turn, by index: their errors are recorded at their turn. */
  const ahead = new Map<number, Promise<PreparedStep>>();
  /** While step `i` runs, prepares the steps of the same target after it, up to its in-flight bound. */
  const lookAhead = async (i: number) => {
    const step = steps[i] as BackupStep;
    for (let j = i + 1; j < Math.min(steps.length, i + (step.inFlight ?? 1)); j++) {
      const next = steps[j] as BackupStep;
      if (next.target !== step.target || !next.prepare) break;
      if (ahead.has(j) || ctx.signal?.aborted) continue;
      // link keys are read right before the scope's server-side part, as in its own turn
      await guards.beforeStep(next.target, next.name);
      const prepared = next.prepare();
      prepared.catch(() => {});
      ahead.set(j, prepared);
    }
  };
  try {
    const blocked = await guards.before(set);
    for (const [i, step] of steps.entries()) {
      try {
        if (blocked) throw blocked;
        let prepared = ahead.get(i);
        ahead.delete(i);
        if (!prepared) {
          await guards.beforeStep(step.target, step.name);
          prepared = step.prepare
            ? step.prepare()
            : Promise.resolve({ run: step.run, release: NOTHING_TO_RELEASE });
        }
        const ready = await prepared;
        const overlap = lookAhead(i);
        try {
          await ready.run(sink);
        } finally {
          await overlap;
        }
      } catch (err) {
        const e = toQnbError(err, ctx.signal);
        set.errors.push({
          target: step.target,
          name: step.name,
          code: e.code,
          message: e.hint ? `${e.message} — ${e.hint}` : e.message,
        });
        if (isAbort(err, ctx.signal)) {
          await finishSet(repository, set, ctx.now(), 'interrupted');
          throw e;
        }
      }
    }
    guards.checkLinks(set);
    await finishSet(repository, set, ctx.now());
  } finally {
    // steps prepared but never run (an interrupted set): undo their server-side part
    for (const prepared of ahead.values()) await prepared.then((p) => p.release(), NOTHING_TO_RELEASE);
    await guards.after(set, repository);
  }
  return {
    setId: set.id,
    status: set.status,
    artifacts: set.artifacts,
    errors: set.errors,
    durationMs: Date.now() - started,
    ...(set.links ? { links: set.links } : {}),
    ...(set.hooks ? { hooks: set.hooks } : {}),
  };
}
