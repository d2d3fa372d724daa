/**
 * The off-site step of the backup pipeline (`--copy-to DEST` on backup-all, schedule, watch, run
 * and the cron line): after a set verified, copy every set the destination lacks (so a copy that failed
 * before catches up), and say whether it worked. `backupAll` runs it between the backup and
 * retention, under the same lock, and skips retention when it failed: nothing is pruned locally
 * that never left the machine.
 */
import type { CopyBackend } from '../storage/backend.js';
import type { TargetContext } from '../targets/target.js';
import { type CopyOptions, type CopyReport, copySets } from './copy.js';
import { type ErrorCode, toQnbError } from './errors.js';
import type { HookRecord } from './manifest.js';
import type { Repository } from './repository.js';

/** What the copy after a backup did. */
export interface BackupCopyReport extends CopyReport {
  /** Set when the destination could not be used at all (e.g. unreachable, missing folder): nothing was copied. */
  error?: { code: ErrorCode; message: string; hint?: string };
}

/** The copy step of one backup run: its report, or why it did not run (no destination, set not ok). */
export type BackupCopyOutcome = BackupCopyReport | { skipped: string };

/** Copies what `backend` lacks; a destination that cannot be read is a failed report, not a throw. */
export async function copyAfterBackup(
  repo: Repository,
  backend: CopyBackend,
  ctx: TargetContext,
  opts: CopyOptions = {},
): Promise<BackupCopyReport> {
  const started = Date.now();
  try {
    return await copySets(repo, backend, ctx, opts);
  } catch (err) {
    const e = toQnbError(err, ctx.signal);
    if (e.code === 'E_INTERRUPTED') throw e;
    return {
      target: backend.name,
      verification: backend.properties().verification,
      dryRun: false,
      ok: false,
      sets: [],
      sentFiles: 0,
      sentBytes: 0,
      durationMs: Date.now() - started,
      error: { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) },
    };
  }
}

/** Why the copy after a backup failed; undefined when it worked, or did not run (no destination, set not ok). */
export function copyFailure(
  copy: BackupCopyOutcome | undefined,
): { code: ErrorCode; message: string; hint?: string } | undefined {
  if (!copy || 'skipped' in copy || copy.ok) return undefined;
  if (copy.error) return copy.error;
  const failed = copy.sets.find((s) => s.action === 'failed');
  return failed?.error ?? { code: 'E_IO', message: `copy to ${copy.target} failed` };
}

/**
 * The `hooks.afterSet` run that failed, or undefined. The set's data is good, but the writers that
 * `hooks.beforeSet` paused may still be paused: the run is reported failed (docs/consistency.md).
 */
export function afterSetFailure(r: { hooks?: readonly HookRecord[] | undefined }): HookRecord | undefined {
  return r.hooks?.find((h) => h.hook === 'afterSet' && !h.ok);
}

/**
 * True when the run did all it was asked: an `ok` set, with a copy destination a complete copy,
 * and no failed `hooks.afterSet`.
 */
export function backupSucceeded(r: {
  status: string;
  copy?: BackupCopyOutcome | undefined;
  hooks?: readonly HookRecord[] | undefined;
}): boolean {
  return r.status === 'ok' && copyFailure(r.copy) === undefined && afterSetFailure(r) === undefined;
}
