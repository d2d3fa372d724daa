/** `qnb backup-all` — every configured Qdrant collection and the Neo4j database in one set. */
import { monitorFor } from '../../schedule/job.js';
import type { CommandContext } from '../io.js';
import { managerFor, printBackupResult } from '../manager-for.js';

/** Options of backup-all. */
export interface BackupAllFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** commander's `--no-cleanup` */
  cleanup?: boolean;
}

export async function runBackupAll(ctx: CommandContext, flags: BackupAllFlags): Promise<number> {
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
      }),
    );
    return printBackupResult(ctx, manager, result);
  } finally {
    await done();
  }
}
