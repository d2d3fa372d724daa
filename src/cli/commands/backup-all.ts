/**
 * `qnb backup-all [--copy-to TARGET]` — every configured Qdrant collection and the Neo4j database
 * in one set; with `--copy-to`, then the off-site copy of every set the target lacks; then
 * retention (only when the set is `ok` and the copy succeeded). The monitoring hooks run around it.
 */
import { monitorFor } from '../../schedule/job.js';
import type { CommandContext } from '../io.js';
import { managerFor, openCopyTo, printBackupResult } from '../manager-for.js';

/** Options of backup-all. */
export interface BackupAllFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** commander's `--no-cleanup` */
  cleanup?: boolean;
  /** A folder or s3://bucket/prefix to copy to after the backup. */
  copyTo?: string;
}

export async function runBackupAll(ctx: CommandContext, flags: BackupAllFlags): Promise<number> {
  // a bad target (unknown scheme, no S3 credentials) fails before anything is backed up
  const copyTo = await openCopyTo(ctx, flags.copyTo);
  const { manager, done } = managerFor(ctx);
  try {
    // pings, webhook and Prometheus textfile around a manual run too (docs/automation.md)
    const monitor = monitorFor(ctx.loaded.config, manager, {
      onEvent: (e) => {
        if (e.type === 'warning') ctx.err(`⚠ ${e.message}`);
      },
      redact: ctx.redact,
      cwd: ctx.io.cwd,
    });
    const result = await monitor.around({ command: 'backup-all' }, () =>
      manager.backupAll({
        skipNeo4j: Boolean(flags.skipNeo4j),
        skipQdrant: Boolean(flags.skipQdrant),
        cleanupOld: flags.cleanup !== false,
        keepLast: ctx.loaded.config.keepLast,
        ...(copyTo ? { copyTo } : {}),
      }),
    );
    return printBackupResult(ctx, manager, result);
  } finally {
    await done();
    await copyTo?.close();
  }
}
