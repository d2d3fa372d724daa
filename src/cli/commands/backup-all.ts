/**
 * `qnb backup-all [--copy-to TARGET]` — every configured Qdrant collection and the Neo4j database
 * in one set; with `--copy-to`, then the off-site copy of every set the target lacks; then
 * retention (only when the set is `ok` and the copy succeeded). The monitoring hooks run around it.
 */
import type { Command } from '@commander-js/extra-typings';
import { monitorFor } from '../../schedule/job.js';
import { type CommandHost, neo4jModeOption } from '../command.js';
import { openCopyTo } from '../destination.js';
import type { CommandContext } from '../io.js';
import { managerFor, printBackupResult } from '../manager-for.js';

/** Options of backup-all. */
export interface BackupAllFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** commander's `--no-cleanup` */
  cleanup?: boolean;
  /** A folder or s3://bucket/prefix to copy to after the backup. */
  copyTo?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('backup-all')
    .description('back up every Qdrant collection and the Neo4j database as one backup set')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option(
      '--keep-last <n>',
      'backups kept per target after a successful set (env QNB_KEEP_LAST, default 5)',
    )
    .option('--no-cleanup', 'do not run retention after the backup')
    .option(
      '--copy-to <target>',
      'then copy the set to a folder or s3://bucket/prefix (retention only after)',
    )
    .addOption(neo4jModeOption('--neo4j-mode <mode>'))
    .action((opts) => {
      host.setResult(
        runBackupAll(host.context({ '--keep-last': opts.keepLast, '--neo4j-mode': opts.neo4jMode }), opts),
      );
    });
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
