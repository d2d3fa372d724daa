/** `qnb list` — backups grouped by target, newest first, seed layout. */

import type { RepoScan } from '../../core/repository.js';
import { managerFor, printJson } from '../context.js';
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
  const { manager, done } = managerFor(ctx);
  try {
    const scan = await manager.list();
    if (ctx.json) {
      printJson(ctx, {
        ok: true,
        ...listJson(scan),
      });
    } else for (const l of renderList(scan)) ctx.out(l);
    return EXIT.OK;
  } finally {
    await done();
  }
}
