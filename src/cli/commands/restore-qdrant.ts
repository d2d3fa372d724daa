/** `qnb restore-qdrant [FILE|--latest] [--collection C] [--as NEW] [--yes] [--force] [--dry-run] [--from DESTINATION]` */
import type { Command } from '@commander-js/extra-typings';
import type { QdrantRestoreReport } from '../../targets/qdrant/qdrant-restore.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { fetchedLine } from '../destination.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { withManager } from '../manager-for.js';
import { renderRestore } from '../render/text.js';

/** Options of restore-qdrant. */
export interface RestoreQdrantFlags {
  latest?: boolean;
  collection?: string;
  as?: string;
  yes?: boolean;
  force?: boolean;
  /** Print the restore plan (cluster backups: the shard plan), change nothing. */
  dryRun?: boolean;
  /** A copy destination to fetch the snapshot from first. */
  from?: string;
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('restore-qdrant')
    .description('upload a snapshot into Qdrant and verify the restored points')
    .argument('[file]', 'snapshot file (path or name in backups/qdrant/)')
    .option('--latest', 'restore the newest valid backup')
    .option('-c, --collection <name>', 'which collection’s backup to restore')
    .option('--as <name>', 'restore under a new collection name')
    .option('-y, --yes', 'allow overwriting an existing collection (a safety snapshot is taken first)')
    .option('--force', 'restore a file without a valid manifest entry, or across Qdrant versions')
    .option('--from <target>', 'fetch the snapshot from a copy target (folder or s3://bucket/prefix) first')
    .option('--dry-run', 'print what the restore would do (cluster backups: the shard plan), change nothing')
    .action((file, opts) => host.setResult(runRestoreQdrant(host.context(), file, opts)));
}

export async function runRestoreQdrant(
  ctx: CommandContext,
  file: string | undefined,
  flags: RestoreQdrantFlags,
): Promise<number> {
  const from = flags.from ? { raw: flags.from, flag: '--from' } : undefined;
  return withManager(ctx, from, async (manager, backend) => {
    const result = await manager.restore({
      kind: 'qdrant',
      selector: { file, latest: flags.latest, name: flags.collection },
      as: flags.as,
      yes: flags.yes,
      force: flags.force,
      dryRun: flags.dryRun,
      cwd: ctx.io.cwd,
      from: backend,
    });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else {
      const lines = renderRestore({ ...result, report: result.report as QdrantRestoreReport });
      if (result.fetch && backend) lines.push(fetchedLine(result.fetch, backend.name));
      for (const l of lines) ctx.out(l);
    }
    return EXIT.OK;
  });
}
