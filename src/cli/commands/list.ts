/**
 * `qnb list [--remote DESTINATION]` — backups grouped by target, newest first, seed layout.
 * Without `--remote` it reads the backups folder only (like the manager's list()), without
 * loading the manager, so it starts fast.
 */
import type { Command } from '@commander-js/extra-typings';
import { createRepository, type RepoScan } from '../../core/repository.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderList } from '../render/text.js';

/** The `--json` form of a listing (local or remote): one object per backup, plus what is not a backup. */
export function listJson(scan: RepoScan) {
  return {
    backups: scan.artifacts.map((a) => ({
      target: a.artifact.target,
      kind: a.artifact.kind,
      name: a.artifact.name,
      file: a.artifact.file,
      path: a.path,
      bytes: a.artifact.bytes,
      createdAt: a.createdAt.toISOString(),
      counts: a.artifact.counts,
      sha256: a.artifact.sha256,
      checksumSource: a.artifact.checksumSource,
      setId: a.set.id,
      reason: a.set.reason,
      valid: a.valid,
      ...(a.problem ? { problem: a.problem } : {}),
      ...(a.artifact.verification ? { verification: a.artifact.verification } : {}),
      ...(a.artifact.stored ? { stored: a.artifact.stored } : {}),
    })),
    unknownFiles: scan.unknownFiles,
    badManifests: scan.badManifests,
  };
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('list')
    .description('list backups grouped by target, newest first')
    .option('--remote <target>', 'list the copies on a folder or s3://bucket/prefix instead')
    .action((opts) => host.setResult(runList(host.context(), opts)));
}

export async function runList(ctx: CommandContext, flags: { remote?: string } = {}): Promise<number> {
  if (flags.remote) return runListRemote(ctx, flags.remote);
  const scan = await createRepository(ctx.loaded.config.backupDir).scan();
  if (ctx.json) printJson(ctx, { ok: true, ...listJson(scan) });
  // one write for the whole listing: a thousand small writes cost more than building the text
  else ctx.out(renderList(scan).join('\n'));
  return EXIT.OK;
}

/** `--remote`: the copies on a destination, judged like local ones (the manager loads only here). */
async function runListRemote(ctx: CommandContext, remote: string): Promise<number> {
  const { withManager } = await import('../manager-for.js');
  return withManager(ctx, { raw: remote, flag: '--remote' }, async (manager, backend) => {
    const scan = await manager.listRemote(backend!);
    if (ctx.json) {
      printJson(ctx, {
        ok: true,
        target: backend!.name,
        ...listJson(scan),
      });
    } else {
      const lines = renderList(scan);
      lines[0] = `=== Backups on ${backend!.name} ===`;
      for (const l of lines) ctx.out(l);
    }
    return EXIT.OK;
  });
}
