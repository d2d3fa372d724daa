/**
 * The one table from outcomes to exit statuses (documented in docs/exit-codes.md).
 */
import { afterSetFailure, copyFailure } from '../core/backup-copy.js';
import type { ErrorCode } from '../core/errors.js';
import type { BackupResult } from '../core/manager.js';
import type { SetStatus } from '../core/manifest.js';

/** Exit statuses of qnb. */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  PARTIAL: 3,
  VERIFY_FAILED: 4,
  LOCKED: 5,
  /** `qnb status`: a target is stale, its last run failed, or its size or counts dropped sharply. */
  UNHEALTHY: 6,
  INTERRUPTED: 130,
} as const;

/** Exit status for an error code. */
export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'E_CONFIG':
    case 'E_USAGE':
    case 'E_REFUSED':
      return EXIT.USAGE;
    case 'E_LOCKED':
      return EXIT.LOCKED;
    case 'E_VERIFY':
    case 'E_CHECKSUM':
      return EXIT.VERIFY_FAILED;
    case 'E_INTERRUPTED':
      return EXIT.INTERRUPTED;
    case 'E_PARTIAL':
      return EXIT.PARTIAL;
    default:
      return EXIT.FAILED;
  }
}

/**
 * Exit status of a backup run: its set's status, then its off-site copy's error (`--copy-to`),
 * then a failed `hooks.afterSet` (partial: the set is good, resuming the writers was not).
 */
export function exitCodeForBackup(r: BackupResult): number {
  if (r.status !== 'ok') return exitCodeForSet(r.status);
  const failed = copyFailure(r.copy);
  if (failed) return exitCodeFor(failed.code);
  return afterSetFailure(r) ? EXIT.PARTIAL : EXIT.OK;
}

/** Exit status for a finished backup set. */
export function exitCodeForSet(status: SetStatus): number {
  if (status === 'ok') return EXIT.OK;
  if (status === 'partial') return EXIT.PARTIAL;
  if (status === 'interrupted') return EXIT.INTERRUPTED;
  return EXIT.FAILED;
}
