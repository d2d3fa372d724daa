/** `qnb backup-neo4j [--mode dump]` — dump the Neo4j database (stops and restarts it on Community). */
import { managerFor, printJson } from '../context.js';
import { exitCodeForSet } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderBackup } from '../render/text.js';

export async function runBackupNeo4j(ctx: CommandContext): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const result = await manager.backupNeo4j();
    if (ctx.json) printJson(ctx, { ok: result.status === 'ok', ...result });
    else
      for (const l of renderBackup(result, (rel) => manager.repository.resolve(rel), ctx.io.cwd)) ctx.out(l);
    return exitCodeForSet(result.status);
  } finally {
    await done();
  }
}
