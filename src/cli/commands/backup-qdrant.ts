/** `qnb backup-qdrant [--collection C]… [--full] [--keep-server-snapshots]` */
import { type Command, Option } from '@commander-js/extra-typings';
import type { CommandHost } from '../command.js';
import type { CommandContext } from '../io.js';
import { printBackupResult, withManager } from '../manager-for.js';

/** Options of backup-qdrant. */
export interface BackupQdrantFlags {
  collection?: string[];
  full?: boolean;
  keepServerSnapshots?: boolean;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('backup-qdrant')
    .description('snapshot Qdrant collections and download them into backups/qdrant/')
    .addOption(new Option('-c, --collection <name...>', 'collection to back up (repeatable; default: all)'))
    .option('--full', 'full-storage snapshot (all collections and aliases) instead of one per collection')
    .option('--keep-server-snapshots', 'leave the snapshots on the Qdrant server after downloading')
    .action((opts) => host.setResult(runBackupQdrant(host.context(), opts)));
}

export async function runBackupQdrant(ctx: CommandContext, flags: BackupQdrantFlags): Promise<number> {
  return withManager(ctx, undefined, async (manager) => {
    const result = await manager.backup('qdrant', {
      ...(flags.collection?.length ? { collections: flags.collection } : {}),
      full: Boolean(flags.full),
      ...(flags.keepServerSnapshots ? { keepServerSnapshots: true } : {}),
    });
    return printBackupResult(ctx, manager, result);
  });
}
