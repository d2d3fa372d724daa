/** `qnb verify [--deep] [SET|FILE] [--from DESTINATION]` — re-hash files against their manifests; --deep adds a restore drill. */
import type { Command } from '@commander-js/extra-typings';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderVerify } from '../render/text.js';

/** Options of verify. */
export interface VerifyFlags {
  deep?: boolean;
  /** Verify the copies on this destination (read back and re-hashed). */
  from?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('verify')
    .description('re-hash backup files against their manifests')
    .argument('[target]', 'a backup set id or a backup file (default: everything)')
    .option(
      '--deep',
      'restore drill: restore into a scratch collection / scratch Neo4j and compare counts and sampled records',
    )
    .option(
      '--from <target>',
      'verify the copies on a folder or s3://bucket/prefix (read back and re-hashed)',
    )
    .action((selector, opts) => host.setResult(runVerify(host.context(), selector, opts)));
}

export async function runVerify(
  ctx: CommandContext,
  selector: string | undefined,
  flags: VerifyFlags = {},
): Promise<number> {
  const from = flags.from ? { raw: flags.from, flag: '--from' } : undefined;
  return withManager(ctx, from, async (manager, backend) => {
    const result = await manager.verify(selector, { deep: Boolean(flags.deep), from: backend });
    if (ctx.json) printJson(ctx, backend ? { target: backend.name, ...result } : result);
    else for (const l of renderVerify(result)) ctx.out(l);
    return result.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  });
}
