/** `qnb restore [SET|--latest] [--yes] [--force] [--from DESTINATION]` — every store back to the same point. */
import type { Command } from '@commander-js/extra-typings';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { fetchedLine } from '../destination.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderRestoreSet } from '../render/text.js';

/** Options of restore. */
export interface RestoreFlags {
  latest?: boolean;
  yes?: boolean;
  force?: boolean;
  /** A copy destination to fetch the set from first. */
  from?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('restore')
    .description(
      'restore a whole backup set: every Qdrant collection and the Neo4j database to the same point',
    )
    .argument('[set]', 'backup set id (see `qnb list --json`)')
    .option('--latest', 'the newest complete backup set that `qnb list` shows valid')
    .option('-y, --yes', 'allow overwriting (a safety backup set of the current state is taken first)')
    .option(
      '--force',
      'restore files that differ from their manifest, a set listed not valid, or across versions',
    )
    .option('--from <target>', 'fetch the set from a copy target (folder or s3://bucket/prefix) first')
    .action((set, opts) => host.setResult(runRestore(host.context(), set, opts)));
}

export async function runRestore(
  ctx: CommandContext,
  setId: string | undefined,
  flags: RestoreFlags,
): Promise<number> {
  const from = flags.from ? { raw: flags.from, flag: '--from' } : undefined;
  return withManager(ctx, from, async (manager, backend) => {
    const result = await manager.restore({
      selector: { setId, latest: flags.latest },
      yes: flags.yes,
      force: flags.force,
      from: backend,
    });
    if (ctx.json) printJson(ctx, result);
    else {
      for (const l of renderRestoreSet(result)) ctx.out(l);
      for (const f of result.fetched ?? []) ctx.out(fetchedLine(f, backend!.name));
    }
    if (result.ok) return EXIT.OK;
    // restored but not what was backed up (a probe, a link): exit 4, like verify
    const failed = result.steps.filter((s) => s.state === 'failed');
    return failed.every((s) => s.code === 'E_VERIFY') ? EXIT.VERIFY_FAILED : EXIT.FAILED;
  });
}
