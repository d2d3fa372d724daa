/** `qnb doctor [--skip-neo4j] [--skip-qdrant]` — every prerequisite, one line each with the fix. */
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderDoctor } from '../render/text.js';

/** Options of doctor. */
export interface DoctorFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
}

export async function runDoctorCommand(ctx: CommandContext, flags: DoctorFlags): Promise<number> {
  const { manager, done } = managerFor(ctx);
  try {
    const checks = await manager.doctor({ neo4j: !flags.skipNeo4j, qdrant: !flags.skipQdrant });
    const ok = checks.every((c) => c.ok);
    if (ctx.json) printJson(ctx, { ok, checks });
    else for (const l of renderDoctor(checks)) ctx.out(l);
    return ok ? EXIT.OK : EXIT.FAILED;
  } finally {
    await done();
  }
}
