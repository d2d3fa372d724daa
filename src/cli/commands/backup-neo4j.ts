/** `qnb backup-neo4j [--mode dump]` — dump the Neo4j database (stops and restarts it on Community). */

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
