/**
 * Off-site copies on the command line:
 *   qnb copy [--to DIR|s3://bucket/prefix] [--dry-run]
 *   qnb list --remote TARGET · qnb prune --remote TARGET … · qnb restore-qdrant|restore-neo4j … --from TARGET
 *   (`--copy-to TARGET` of backup-all, schedule, watch, run: src/core/backup-copy.ts, in backupAll)
 * Loaded on use, so other commands never load the S3 SDK.
 */
import type { QnbConfig } from '../../config/schema.js';
import { ConfigError } from '../../core/errors.js';
import type { BackupManager } from '../../core/manager.js';
import { describePolicy, type RetentionPolicy } from '../../core/retention.js';
import type { CopyBackend } from '../../storage/backend.js';
import { openCopyBackend, parseDestination, type S3Settings } from '../../storage/registry.js';
import { printJson } from '../context.js';
import { EXIT, exitCodeFor } from '../exit-codes.js';
import type { CommandContext } from '../io.js';
import { managerFor } from '../manager-for.js';
import { renderCopy } from '../render/offsite.js';
import {
  renderList,
  renderNeo4jRestore,
  renderPrune,
  renderRestore,
  renderRestoreSet,
  renderVerify,
} from '../render/text.js';
import { listJson } from './list.js';
import type { PruneFlags } from './prune.js';
import type { RestoreFlags } from './restore.js';
import type { RestoreNeo4jFlags } from './restore-neo4j.js';
import type { RestoreQdrantFlags } from './restore-qdrant.js';

/** The S3 part of the configuration, as the backend takes it. */
export function s3SettingsFrom(config: Readonly<QnbConfig>): S3Settings {
  const s = config.s3;
  return {
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    sessionToken: s.sessionToken,
    profile: s.profile,
    partSize: s.partSizeMb * 1024 * 1024,
    concurrency: s.concurrency,
  };
}

/** Opens the target named by a flag (or QNB_COPY_TO for `copy`). */
export async function openTarget(
  ctx: CommandContext,
  raw: string | undefined,
  flag: string,
): Promise<CopyBackend> {
  const value = raw ?? ctx.loaded.config.copy.to;
  if (!value)
    throw new ConfigError(
      `${flag}: no copy target given`,
      `pass ${flag} DIR or ${flag} s3://bucket/prefix, or set QNB_COPY_TO`,
    );
  return openCopyBackend(parseDestination(value, ctx.io.cwd), s3SettingsFrom(ctx.loaded.config));
}

async function withTarget<T>(
  ctx: CommandContext,
  raw: string | undefined,
  flag: string,
  body: (manager: BackupManager, backend: CopyBackend) => Promise<T>,
): Promise<T> {
  const backend = await openTarget(ctx, raw, flag);
  const { manager, done } = managerFor(ctx);
  try {
    return await body(manager, backend);
  } finally {
    await backend.close();
    await done();
  }
}

/** Prints the copy report; returns its exit status. */
function reportCopy(
  ctx: CommandContext,
  report: Awaited<ReturnType<BackupManager['copy']>>,
  print: (l: string) => void,
) {
  for (const l of renderCopy(report)) print(l);
  const failed = report.sets.find((s) => s.action === 'failed');
  if (!failed?.error) return EXIT.OK;
  ctx.err(`✘ ${failed.error.message}${failed.error.hint ? ` — ${failed.error.hint}` : ''}`);
  return exitCodeFor(failed.error.code);
}

/** `qnb copy [--to TARGET] [--dry-run]` */
export async function runCopy(
  ctx: CommandContext,
  flags: { to?: string; dryRun?: boolean },
): Promise<number> {
  return withTarget(ctx, flags.to, '--to', async (manager, backend) => {
    const report = await manager.copy(backend, { dryRun: Boolean(flags.dryRun) });
    if (ctx.json) {
      printJson(ctx, report);
      const failed = report.sets.find((s) => s.action === 'failed');
      return failed?.error ? exitCodeFor(failed.error.code) : EXIT.OK;
    }
    return reportCopy(ctx, report, (l) => ctx.out(l));
  });
}

/** `qnb list --remote TARGET` */
export async function runListRemote(ctx: CommandContext, remote: string): Promise<number> {
  return withTarget(ctx, remote, '--remote', async (manager, backend) => {
    const scan = await manager.listRemote(backend);
    if (ctx.json) {
      printJson(ctx, {
        ok: true,
        target: backend.name,
        ...listJson(scan),
      });
    } else {
      const lines = renderList(scan);
      lines[0] = `=== Backups on ${backend.name} ===`;
      for (const l of lines) ctx.out(l);
    }
    return EXIT.OK;
  });
}

function count(flag: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new ConfigError(`${flag}: "${raw}" is not a whole number ≥ 0`, `e.g. ${flag} 4`);
  return n;
}

/** `qnb prune --remote TARGET [--keep-last N] [--keep-daily …] [--gfs] [--dry-run]` */
export async function runPruneRemote(
  ctx: CommandContext,
  remote: string,
  flags: PruneFlags,
): Promise<number> {
  const gfs = flags.gfs ? { keepDaily: 5, keepWeekly: 4, keepMonthly: 3 } : {};
  const policy: RetentionPolicy = {
    keepLast: ctx.loaded.config.keepLast,
    ...gfs,
    ...(flags.keepDaily !== undefined ? { keepDaily: count('--keep-daily', flags.keepDaily) } : {}),
    ...(flags.keepWeekly !== undefined ? { keepWeekly: count('--keep-weekly', flags.keepWeekly) } : {}),
    ...(flags.keepMonthly !== undefined ? { keepMonthly: count('--keep-monthly', flags.keepMonthly) } : {}),
  };
  return withTarget(ctx, remote, '--remote', async (manager, backend) => {
    const result = await manager.pruneRemote(backend, { policy, dryRun: Boolean(flags.dryRun) });
    if (ctx.json) printJson(ctx, { ok: true, target: backend.name, policy, ...result });
    else for (const l of renderPrune(result, `${describePolicy(policy)} on ${backend.name}`)) ctx.out(l);
    return EXIT.OK;
  });
}

const fetchedLine = (f: { file: string; fetched: boolean }, from: string) =>
  f.fetched
    ? `   Fetched: ${f.file} from ${from} (sha256 verified against the copy's manifest)`
    : `   Fetched: nothing (${f.file} was already in the backups folder, same sha256)`;

/** `qnb restore-qdrant [FILE|--latest] --from TARGET …` */
export async function runRestoreQdrantFrom(
  ctx: CommandContext,
  from: string,
  file: string | undefined,
  flags: RestoreQdrantFlags,
): Promise<number> {
  return withTarget(ctx, from, '--from', async (manager, backend) => {
    const result = await manager.restoreQdrantFrom(backend, {
      ...flags,
      ...(file ? { file } : {}),
      cwd: ctx.io.cwd,
    });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else for (const l of [...renderRestore(result), fetchedLine(result.fetch, backend.name)]) ctx.out(l);
    return EXIT.OK;
  });
}

/** `qnb restore-neo4j [FILE|--latest] --from TARGET …` */
export async function runRestoreNeo4jFrom(
  ctx: CommandContext,
  from: string,
  file: string | undefined,
  flags: RestoreNeo4jFlags,
): Promise<number> {
  return withTarget(ctx, from, '--from', async (manager, backend) => {
    const result = await manager.restoreNeo4jFrom(backend, {
      ...flags,
      ...(file ? { file } : {}),
      cwd: ctx.io.cwd,
    });
    if (ctx.json) printJson(ctx, { ok: true, ...result });
    else for (const l of [...renderNeo4jRestore(result), fetchedLine(result.fetch, backend.name)]) ctx.out(l);
    return EXIT.OK;
  });
}

/** `qnb verify [--deep] [SET|FILE] --from TARGET` */
export async function runVerifyFrom(
  ctx: CommandContext,
  from: string,
  selector: string | undefined,
  flags: { deep?: boolean },
): Promise<number> {
  return withTarget(ctx, from, '--from', async (manager, backend) => {
    const result = await manager.verifyFrom(backend, selector, { deep: Boolean(flags.deep) });
    if (ctx.json) printJson(ctx, { target: backend.name, ...result });
    else for (const l of renderVerify(result)) ctx.out(l);
    return result.ok ? EXIT.OK : EXIT.VERIFY_FAILED;
  });
}

/** `qnb restore [SET|--latest] --from TARGET [--yes] [--force]` */
export async function runRestoreSetFrom(
  ctx: CommandContext,
  from: string,
  setId: string | undefined,
  flags: RestoreFlags,
): Promise<number> {
  return withTarget(ctx, from, '--from', async (manager, backend) => {
    const result = await manager.restoreSetFrom(backend, { ...flags, ...(setId ? { setId } : {}) });
    if (ctx.json) printJson(ctx, result);
    else {
      for (const l of renderRestoreSet(result)) ctx.out(l);
      for (const f of result.fetched) ctx.out(fetchedLine(f, backend.name));
    }
    return result.ok ? EXIT.OK : EXIT.FAILED;
  });
}
