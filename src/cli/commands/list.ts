/**
 * `qnb list` — backups grouped by target, newest first, seed layout. Reads the backups folder
 * only (like the manager's list()), without loading the manager, so it starts fast.
 */
import { createRepository, type RepoScan } from '../../core/repository.js';
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

export async function runList(ctx: CommandContext): Promise<number> {
  const scan = await createRepository(ctx.loaded.config.backupDir).scan();
  if (ctx.json) printJson(ctx, { ok: true, ...listJson(scan) });
  // one write for the whole listing: a thousand small writes cost more than building the text
  else ctx.out(renderList(scan).join('\n'));
  return EXIT.OK;
}
