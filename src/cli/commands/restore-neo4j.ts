/** `qnb restore-neo4j [FILE|--latest] [--yes] [--force] [--from DESTINATION]` */
import type { Command } from '@commander-js/extra-typings';
import type { Neo4jRestoreReport } from '../../targets/neo4j/neo4j-restore.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { fetchedLine } from '../destination.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderNeo4jRestore } from '../render/text.js';

/** Options of restore-neo4j. */
export interface RestoreNeo4jFlags {
  latest?: boolean;
  yes?: boolean;
  force?: boolean;
  /** A copy destination to fetch the dump or export from first. */
  from?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('restore-neo4j')
    .description(
      'restore a Neo4j dump (stop, neo4j-admin load, start) or import an export over Bolt, then verify counts and samples',
    )
    .argument('[file]', 'dump or export file (path or name in backups/neo4j/)')
    .option('--latest', 'restore the newest valid dump or export')
    .option('-y, --yes', 'allow overwriting a database that holds data (a safety dump is taken first)')
    .option('--force', 'restore a file without a valid manifest entry, or a dump from a newer Neo4j')
    .option('--from <target>', 'fetch the dump from a copy target (folder or s3://bucket/prefix) first')
    .action((file, opts) => host.setResult(runRestoreNeo4j(host.context(), file, opts)));
}

export async function runRestoreNeo4j(
  ctx: CommandContext,
  file: string | undefined,
  flags: RestoreNeo4jFlags,
): Promise<number> {
  const from = flags.from ? { raw: flags.from, flag: '--from' } : undefined;
  return withManager(ctx, from, async (manager, backend) => {
    const result = await manager.restore({
      kind: 'neo4j',
      selector: { file, latest: flags.latest },
      yes: flags.yes,
      force: flags.force,
      cwd: ctx.io.cwd,
      from: backend,
    });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else {
      const lines = renderNeo4jRestore({ ...result, report: result.report as Neo4jRestoreReport });
      if (result.fetch && backend) lines.push(fetchedLine(result.fetch, backend.name));
      for (const l of lines) ctx.out(l);
    }
    return EXIT.OK;
  });
}
