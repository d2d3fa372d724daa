/**
 * `qnb status [--max-age 26h] [--remote TARGET | --no-remote]` — last good backup per target, its
 * age, size and trend; exit 6 (unhealthy) when a target is stale, its last run failed, or its size
 * or a count dropped sharply. With a copy target (`--remote`, else `copy.to` / QNB_COPY_TO), also
 * where each backup set is — local, remote or both — and exit 6 when the copies fall behind.
 * Reads only: no lock, no database server, so it is quick and works during a backup.
 */

import type { Command } from '@commander-js/extra-typings';
import { computeOffsite, type OffsiteReport } from '../../core/offsite-status.js';
import { displayBase, scanRemote } from '../../core/remote-scan.js';
import { createRepository, type RepoScan } from '../../core/repository.js';
import { computeStatus } from '../../core/status.js';
import type { CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderOffsite } from '../render/offsite.js';
import { renderStatus } from '../render/text.js';

/** Options of status. */
export interface StatusFlags {
  /** A copy target to compare with; `false` (`--no-remote`) ignores `copy.to`. */
  remote?: string | boolean;
}

/** Scans the copy target (the S3 SDK loads only for s3:// targets) and places every set. */
async function offsiteReport(
  ctx: CommandContext,
  raw: string,
  local: RepoScan,
  now: Date,
): Promise<OffsiteReport> {
  const { openDestination } = await import('../destination.js');
  const backend = await openDestination(ctx, raw, '--remote');
  try {
    const target = displayBase(backend);
    const remote = await scanRemote(backend, target, ctx.io.signal);
    return computeOffsite(local, remote, { now, maxAgeMs: ctx.loaded.config.automation.maxAge, target });
  } finally {
    await backend.close();
  }
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('status')
    .description('last good backup per target, age and size trend; exit 6 when stale, failing or shrunk')
    .option('--max-age <duration>', 'older last good backups are stale (env QNB_MAX_AGE, default 26h)')
    .option(
      '--remote <target>',
      'also show where each set is: here, on this folder or s3://bucket/prefix, or both (default: QNB_COPY_TO)',
    )
    .option('--no-remote', 'only the backups folder, even when QNB_COPY_TO is set')
    .action((opts) => host.setResult(runStatus(host.context({ '--max-age': opts.maxAge }), opts)));
}

export async function runStatus(ctx: CommandContext, flags: StatusFlags = {}): Promise<number> {
  const { config } = ctx.loaded;
  const remote =
    typeof flags.remote === 'string' ? flags.remote : flags.remote === false ? undefined : config.copy.to;
  const scan = await createRepository(config.backupDir).scan();
  const expected = [
    ...config.qdrant.collections.map((name) => ({ target: 'qdrant' as const, name })),
    ...(config.neo4j.home || config.neo4j.container
      ? [{ target: 'neo4j' as const, name: config.neo4j.database }]
      : []),
  ];
  const now = new Date();
  const report = computeStatus(scan, { now, maxAgeMs: config.automation.maxAge, expected });
  const offsite = typeof remote === 'string' ? await offsiteReport(ctx, remote, scan, now) : undefined;
  const healthy = report.healthy && (offsite?.healthy ?? true);
  if (ctx.json) printJson(ctx, { ok: healthy, ...report, healthy, ...(offsite ? { offsite } : {}) });
  else {
    for (const l of renderStatus(report)) ctx.out(l);
    if (offsite) for (const l of ['', ...renderOffsite(offsite)]) ctx.out(l);
  }
  return healthy ? EXIT.OK : EXIT.UNHEALTHY;
}
