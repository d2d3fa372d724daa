/** `qnb doctor [--skip-neo4j] [--skip-qdrant]` — every prerequisite, one line each with the fix. */
import type { Command } from '@commander-js/extra-typings';
import type { TargetKind } from '../../core/manifest.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderDoctor } from '../render/doctor.js';

/** Options of doctor. */
export interface DoctorFlags {
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('doctor')
    .description(
      'check every prerequisite (Qdrant, API key, Neo4j, container, neo4j-admin, disk, lock) and say what to do',
    )
    .option('--skip-neo4j', 'do not check Neo4j')
    .option('--skip-qdrant', 'do not check Qdrant')
    .action((opts) => host.setResult(runDoctorCommand(host.context(), opts)));
}

export async function runDoctorCommand(ctx: CommandContext, flags: DoctorFlags): Promise<number> {
  const skip: TargetKind[] = [
    ...(flags.skipNeo4j ? ['neo4j' as const] : []),
    ...(flags.skipQdrant ? ['qdrant' as const] : []),
  ];
  return withManager(ctx, undefined, async (manager) => {
    const checks = await manager.doctor({ skip });
    const ok = checks.every((c) => c.ok);
    if (ctx.json) printJson(ctx, { ok, checks });
    else for (const l of renderDoctor(checks)) ctx.out(l);
    return ok ? EXIT.OK : EXIT.FAILED;
  });
}
