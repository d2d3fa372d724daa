/**
 * `qnb status [--max-age 26h]` — last good backup per target, its age, size and trend; exit 6
 * (unhealthy) when a target is stale, its last run failed, or its size or a count dropped sharply.
 * Reads the backups folder only: no lock, no server, so it is quick and works during a backup.
 */
import { createRepository } from '../../core/repository.js';
import { computeStatus } from '../../core/status.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { renderStatus } from '../render/text.js';

export async function runStatus(ctx: CommandContext): Promise<number> {
  const { config } = ctx.loaded;
  const scan = await createRepository(config.backupDir).scan();
  const expected = [
    ...config.qdrant.collections.map((name) => ({ target: 'qdrant' as const, name })),
    ...(config.neo4j.home || config.neo4j.container
      ? [{ target: 'neo4j' as const, name: config.neo4j.database }]
      : []),
  ];
  const report = computeStatus(scan, { now: new Date(), maxAgeMs: config.automation.maxAge, expected });
  if (ctx.json) printJson(ctx, { ok: report.healthy, ...report });
  else for (const l of renderStatus(report)) ctx.out(l);
  return report.healthy ? EXIT.OK : EXIT.UNHEALTHY;
}
