/**
 * One backup set from target steps: the set is started, each step (one scope of one target)
 * backs up into it — a failed step is recorded and the next one runs, an abort marks the set
 * interrupted and stops — and the set is finished with its status. Used by the manager.
 */
import type { BackupRequest, Target, TargetContext } from '../targets/target.js';
import type { BackupCopyReport } from './backup-copy.js';
import { isAbort, toQnbError } from './errors.js';
import type { ArtifactRecord, SetManifest, TargetKind } from './manifest.js';
import type { PruneResult } from './prune.js';
import type { Repository } from './repository.js';
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
  /** With `copyTo` (backupAll): what the off-site copy did, or why it did not run. */
  copy?: BackupCopyReport | { skipped: string };
}

/** One step of a set: one scope of one target. */
export interface BackupStep {
  target: TargetKind;
  name: string;
  run: (sink: ReturnType<typeof createSetSink>) => Promise<unknown>;
}

/** The steps of one target: its preflight first, so nothing is written when it fails. */
export async function backupSteps(t: Target, req: BackupRequest, ctx: TargetContext): Promise<BackupStep[]> {
  const scopes = await t.preflight(req, ctx);
  return scopes.map((scope) => ({
    target: t.kind,
    name: scope.name,
    run: (sink) => t.backup(scope, sink, ctx),
  }));
}

/** Runs `steps` as one set recorded as `command`. */
export async function runBackupSet(
  repository: Repository,
  ctx: TargetContext,
  command: string,
  reason: SetManifest['reason'],
  steps: BackupStep[],
): Promise<BackupResult> {
  const started = Date.now();
  const set = await startSet(repository, command, ctx.now(), reason);
  const sink = createSetSink(repository, set, ctx.now);
  for (const step of steps) {
    try {
      await step.run(sink);
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
  await finishSet(repository, set, ctx.now());
  return {
    setId: set.id,
    status: set.status,
    artifacts: set.artifacts,
    errors: set.errors,
    durationMs: Date.now() - started,
  };
}
