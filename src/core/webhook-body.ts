/**
 * The JSON body the monitoring webhook receives after a run (docs/automation.md): the set's
 * status, its backups and errors, the off-site copy and the quiesce hooks, and one line of text
 * for chat webhooks. Pure functions of a run's result; `monitor.ts` sends them.
 */
import { hostname } from 'node:os';
import { afterSetFailure, backupSucceeded, copyFailure } from './backup-copy.js';
import type { QnbError } from './errors.js';
import type { BackupResult } from './manager.js';

/** What a run is, for the webhook. */
export interface RunInfo {
  /** e.g. `backup-all`, `backup-all (schedule)`, `run: make reindex`. */
  command: string;
}

/** Body of the webhook POST. */
export interface WebhookBody {
  event: 'backup';
  /**
   * The set's status; `copy-failed` for an `ok` set whose off-site copy (`--copy-to`) failed,
   * `hook-failed` for an `ok` set whose `hooks.afterSet` failed (the writers may still be paused).
   */
  status: BackupResult['status'] | 'error' | 'copy-failed' | 'hook-failed';
  ok: boolean;
  setId: string | null;
  command: string;
  host: string;
  durationMs: number;
  artifacts: { target: string; name: string; file: string; bytes: number; counts: Record<string, number> }[];
  errors: { target?: string; name?: string; code: string; message: string }[];
  /** With `--copy-to`: where the copy went, whether it worked, its error; or why it did not run. */
  copy?:
    | {
        target: string;
        ok: boolean;
        sentFiles: number;
        sentBytes: number;
        error?: { code: string; message: string };
      }
    | { skipped: string };
  /** The quiesce hooks that ran around the set: their exit status and, when one failed, why. */
  hooks?: { hook: 'beforeSet' | 'afterSet'; ok: boolean; exitCode?: number | null; message?: string }[];
  /** One line for chat webhooks (Slack, Mattermost). */
  text: string;
}

function copySummary(copy: NonNullable<BackupResult['copy']>): NonNullable<WebhookBody['copy']> {
  if ('skipped' in copy) return copy;
  const failed = copyFailure(copy);
  return {
    target: copy.target,
    ok: !failed,
    sentFiles: copy.sentFiles,
    sentBytes: copy.sentBytes,
    ...(failed ? { error: { code: failed.code, message: failed.message } } : {}),
  };
}

/** The body for a run that stopped before a set existed (or was interrupted). */
export function errorBody(info: RunInfo, e: QnbError, durationMs: number): WebhookBody {
  return {
    event: 'backup',
    status: e.code === 'E_INTERRUPTED' ? 'interrupted' : 'error',
    ok: false,
    setId: null,
    command: info.command,
    host: hostname(),
    durationMs,
    artifacts: [],
    errors: [{ code: e.code, message: e.message }],
    text: `qnb ${info.command} on ${hostname()}: ${e.message}`,
  };
}

/** The body for a run that produced a set. */
export function webhookBody(info: RunInfo, r: BackupResult): WebhookBody {
  const artifacts = r.artifacts
    .filter((a) => a.status === 'ok')
    .map((a) => ({
      target: a.target,
      name: a.name,
      file: a.file,
      bytes: a.bytes,
      counts: a.counts as Record<string, number>,
    }));
  const failed = r.errors.map((e) => `${e.target} ${e.name}`).join(', ');
  const copy = r.copy ? copySummary(r.copy) : undefined;
  const copyError = copy && 'error' in copy ? copy.error : undefined;
  const copyText =
    !copy || 'skipped' in copy
      ? ''
      : copyError
        ? `; copy to ${copy.target} FAILED: ${copyError.message}`
        : `; copied to ${copy.target}`;
  const after = afterSetFailure(r);
  const hooks = r.hooks?.map((h) => ({
    hook: h.hook,
    ok: h.ok,
    ...(h.exitCode !== undefined ? { exitCode: h.exitCode } : {}),
    ...(!h.ok && h.detail ? { message: h.detail } : {}),
  }));
  const hookText = after ? `; hooks.afterSet FAILED: ${after.detail} (writers may still be paused)` : '';
  return {
    event: 'backup',
    status: r.status !== 'ok' ? r.status : copyError ? 'copy-failed' : after ? 'hook-failed' : r.status,
    ok: backupSucceeded(r),
    setId: r.setId,
    command: info.command,
    host: hostname(),
    durationMs: r.durationMs,
    artifacts,
    errors: r.errors,
    ...(copy ? { copy } : {}),
    ...(hooks?.length ? { hooks } : {}),
    text: `qnb ${info.command} on ${hostname()}: set ${r.setId} ${r.status} (${artifacts.length} backup(s)${failed ? `; failed: ${failed}` : ''})${copyText}${hookText}`,
  };
}
