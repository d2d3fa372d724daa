/**
 * `qnb prune --remote DEST`: retention on a copy destination, with the same planner and guarantees as
 * local retention (prune.ts): the newest valid backup of every group is kept, only objects that a
 * manifest on the destination references are deleted, unknown objects are reported and never touched,
 * and the manifest entry leaves (moved to `pruned`) before the object, so a crash in between
 * leaves an unknown object, never a valid-looking entry without its object.
 */
import type { CopyBackend } from '../storage/backend.js';
import type { TargetContext } from '../targets/target.js';
import { putText } from './copy-upload.js';
import { throwIfAborted } from './errors.js';
import { manifestText, type SetManifest, storedObject } from './manifest.js';
import { type PruneOptions, type PruneResult, planFor } from './prune.js';
import { scanRemote, setKey } from './remote-scan.js';

/** Plans retention over the destination and (unless dryRun) deletes what the plan removes. */
export async function pruneRemote(
  backend: CopyBackend,
  base: string,
  ctx: TargetContext,
  opts: PruneOptions,
): Promise<PruneResult> {
  const scan = await scanRemote(backend, base, ctx.signal);
  // the same planner and groups as local retention
  const plan = planFor(scan.artifacts, ctx, opts);
  const byFile = new Map(scan.artifacts.map((a) => [a.artifact.file, a]));
  const result: PruneResult = {
    dryRun: Boolean(opts.dryRun),
    decisions: plan.decisions.map((d) => ({ ...d, bytes: byFile.get(d.id)?.artifact.bytes ?? 0 })),
    removed: [],
    freedBytes: 0,
    unknownFiles: scan.unknownFiles,
  };
  if (opts.dryRun) return result;
  for (const file of plan.remove) {
    throwIfAborted(ctx.signal);
    const a = byFile.get(file);
    if (!a) continue;
    const set: SetManifest = a.set;
    set.artifacts = set.artifacts.filter((x) => x.file !== file);
    set.pruned = [...(set.pruned ?? []), { file, at: ctx.now().toISOString() }];
    await putText(backend, setKey(set.id), manifestText(set), ctx.signal);
    await backend.remove(storedObject(a.artifact).key, ctx.signal ? { signal: ctx.signal } : {});
    ctx.reporter.emit({
      type: 'step',
      target: a.artifact.target,
      name: a.artifact.name,
      message: `pruned ${a.path}`,
    });
    result.removed.push(file);
    result.freedBytes += a.artifact.bytes;
  }
  return result;
}
