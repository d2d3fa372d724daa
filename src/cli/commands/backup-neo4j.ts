/** `qnb backup-neo4j [--mode dump]` — dump the Neo4j database (stops and restarts it on Community). */
import { managerFor, printBackupResult } from '../context.js';
import type { CommandContext } from '../io.js';

export async function runBackupNeo4j(ctx: CommandContext): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.backupNeo4j();
    return printBackupResult(ctx, manager, result);
  } finally {
    await done();
  }
}
