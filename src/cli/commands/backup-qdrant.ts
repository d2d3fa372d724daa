/** `qnb backup-qdrant [--collection C]… [--full] [--keep-server-snapshots]` */

import { managerFor, printJson } from '../context.js';
import { exitCodeForSet } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderBackup } from '../render/text.js';

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
    if (ctx.json) printJson(ctx, { ok: result.status === 'ok', ...result });
    else
      for (const l of renderBackup(result, (rel) => manager.repository.resolve(rel), ctx.io.cwd)) ctx.out(l);
    return exitCodeForSet(result.status);
  } finally {
    await done();
  }
}
