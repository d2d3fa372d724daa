/**
 * The manager wired to the CLI's reporter, for commands that talk to servers or write backups.
 * Kept apart from context.ts so that reading commands (`list`, `status`) do not load the
 * manager and, through it, every target.
 */
import { afterSetFailure, backupSucceeded, copyFailure } from '../core/backup-copy.js';
import { type BackupManager, type BackupResult, createBackupManager } from '../core/manager.js';
import type { CopyBackend } from '../storage/backend.js';
import { printJson } from './context.js';
import { openDestination } from './destination.js';
import { exitCodeForBackup } from './exit-codes.js';
import type { CommandContext } from './io.js';
import { createCliReporter } from './render/progress.js';
import { renderBackup } from './render/text.js';

/** A manager whose events are rendered on stderr (bars on a TTY; warnings only with --json). */
export function managerFor(ctx: CommandContext): { manager: BackupManager; done(): Promise<void> } {
  const reporter = createCliReporter(ctx.err, {
    tty: ctx.io.isTTY && !ctx.json,
    quiet: ctx.json,
    stream: ctx.io.stderr,
  });
  const manager = createBackupManager(ctx.loaded.config, {
    onEvent: (e) => reporter.emit(e),
    signal: ctx.io.signal,
  });
  return {
    manager,
    async done() {
      reporter.stop();
      await manager.close();
    },
  };
}

/**
 * Runs `body` with a manager and, when `raw` names one (`--from`, `--remote`), the copy
 * destination opened first (a bad destination fails before the manager starts); closes both.
 */
export async function withManager<T>(
  ctx: CommandContext,
  destination: { raw: string | undefined; flag: string } | undefined,
  body: (manager: BackupManager, backend: CopyBackend | undefined) => Promise<T>,
): Promise<T> {
  const backend = destination ? await openDestination(ctx, destination.raw, destination.flag) : undefined;
  const { manager, done } = managerFor(ctx);
  try {
    return await body(manager, backend);
  } finally {
    await backend?.close();
    await done();
  }
}

/** `✘ …` for a failed off-site copy after a backup, or undefined. */
export function copyFailureLine(result: BackupResult): string | undefined {
  const failed = copyFailure(result.copy);
  return failed && `✘ ${failed.message}${failed.hint ? ` — ${failed.hint}` : ''}`;
}

/** `✘ hooks.afterSet failed: …` with the fix (the writers may still be paused), or undefined. */
export function afterSetFailureLine(result: BackupResult): string | undefined {
  const failed = afterSetFailure(result);
  return (
    failed &&
    `✘ hooks.afterSet failed: ${failed.detail} — the writers may still be paused: run the hooks.afterSet command by hand`
  );
}

/**
 * Prints a backup set (with its copy, when `--copy-to` asked for one) as JSON or in the seed's
 * `=== Backup Results ===` layout; returns the exit status.
 */
export function printBackupResult(ctx: CommandContext, manager: BackupManager, result: BackupResult): number {
  if (ctx.json) printJson(ctx, { ok: backupSucceeded(result), ...result });
  else {
    for (const l of renderBackup(result, (rel) => manager.repository.resolve(rel), ctx.io.cwd)) ctx.out(l);
    const failed = copyFailureLine(result);
    if (failed) ctx.err(failed);
  }
  const after = afterSetFailureLine(result);
  if (after) ctx.err(after);
  return exitCodeForBackup(result);
}
