/** `qnb backup-neo4j [--mode dump|export]` — dump the Neo4j database (stopped meanwhile on Community) or export it online. */

import type { CommandContext } from '../io.js';
import { managerFor, printBackupResult } from '../manager-for.js';

export async function runBackupNeo4j(ctx: CommandContext): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.backupNeo4j();
    return printBackupResult(ctx, manager, result);
  } finally {
    await done();
  }
}
