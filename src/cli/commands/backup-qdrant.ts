/** `qnb backup-qdrant [--collection C]… [--full] [--keep-server-snapshots]` */

import type { CommandContext } from '../io.js';
import { managerFor, printBackupResult } from '../manager-for.js';

/** Options of backup-qdrant. */
export interface BackupQdrantFlags {
  collection?: string[];
  full?: boolean;
  keepServerSnapshots?: boolean;
}

export async function runBackupQdrant(ctx: CommandContext, flags: BackupQdrantFlags): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.backupQdrant({
      ...(flags.collection?.length ? { collections: flags.collection } : {}),
      full: Boolean(flags.full),
      ...(flags.keepServerSnapshots ? { keepServerSnapshots: true } : {}),
    });
    return printBackupResult(ctx, manager, result);
  } finally {
    await done();
  }
}
