/**
 * `qnb install-cron [--cron EXPR] [--log FILE] [--print] [--systemd] [--skip-neo4j] [--skip-qdrant]
 * [--copy-to TARGET]` — installs (idempotently) the crontab line that runs `qnb backup-all` (with
 * `--copy-to`, an off-site copy after each backup) from this folder with a log, `--print` only
 * prints it, `--systemd` prints a service + timer pair instead.
 */
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '@commander-js/extra-typings';
import { KEYS } from '../../config/keys.js';
import { ConfigError } from '../../core/errors.js';
import { cronToOnCalendar, parseCrontabCron } from '../../schedule/cron.js';
import { keySource } from '../../schedule/cron-source.js';
import {
  cronLine,
  type JobSpec,
  logProblem,
  mergeCrontab,
  readCrontab,
  systemdUnits,
  writeCrontab,
} from '../../schedule/install-cron.js';
import { parseDestination } from '../../storage/registry.js';
import { COPY_TO_HELP, type CommandHost } from '../command.js';
import { printJson } from '../context.js';
import { EXIT } from '../exit-codes.js';
import type { CommandContext } from '../io.js';

/** Options of install-cron. */
export interface InstallCronFlags {
  log?: string;
  systemd?: boolean;
  print?: boolean;
  skipNeo4j?: boolean;
  skipQdrant?: boolean;
  /** A folder or s3://bucket/prefix the cron job copies to after each backup. */
  copyTo?: string;
}

/** The seed's log location, renamed for qnb. */
export const DEFAULT_CRON_LOG = '/tmp/qnb-backup.log';

/** What cron or systemd runs: absolute node, absolute qnb script, this folder, this config. */
function jobFor(ctx: CommandContext, flags: InstallCronFlags): JobSpec {
  const { loaded } = ctx;
  const script = realpathSync(fileURLToPath(new URL('../main.js', import.meta.url)));
  const args = ['backup-all'];
  if (loaded.file) args.push('--config', loaded.file);
  if (loaded.sources.backupDir === 'flag') args.push('--backup-dir', loaded.config.backupDir);
  if (loaded.sources['qdrant.url'] === 'flag') args.push('--qdrant-url', loaded.config.qdrant.url);
  if (loaded.sources['qdrant.nodes'] === 'flag')
    for (const url of loaded.config.qdrant.nodes) args.push('--qdrant-node', url);
  if (flags.skipNeo4j) args.push('--skip-neo4j');
  if (flags.skipQdrant) args.push('--skip-qdrant');
  if (flags.copyTo) {
    // checked now (a bad target is exit 2 before the crontab is touched); a folder goes in absolute
    const target = parseDestination(flags.copyTo, ctx.io.cwd);
    args.push('--copy-to', target.kind === 'dir' ? target.root : flags.copyTo.trim());
  }
  return { node: process.execPath, script, cwd: ctx.io.cwd, args };
}

/** Settings that come from the environment, which cron and systemd do not pass on. */
function envOnly(ctx: CommandContext): string[] {
  return KEYS.filter((k) => ctx.loaded.sources[k.path] === 'env' && !k.path.startsWith('automation.')).map(
    (k) => k.env!,
  );
}

/** What is wrong with a log the job cannot append to, and the fix (`undefined` when it can). */
function logMessage(
  ctx: CommandContext,
  log: string,
  create: boolean,
  systemd = false,
): [string, string] | undefined {
  const problem = logProblem(log, create);
  if (!problem) return undefined;
  const home = ctx.io.env.HOME ? join(ctx.io.env.HOME, 'qnb-backup.log') : undefined;
  const instead = [join(ctx.loaded.config.backupDir, 'qnb-backup.log'), home].filter(Boolean).join(' or ');
  return [
    `--log ${log}: cannot append to it (${problem}), so ${systemd ? 'the service would fail to start' : 'cron would never run qnb'}`,
    `${problem.endsWith(' does not exist') ? `create it (mkdir -p ${dirname(log)}) or ` : ''}use a path you can write, e.g. --log ${instead}`,
  ];
}

export function register(program: Command, host: CommandHost): void {
  program
    .command('install-cron')
    .description('install the crontab line that runs qnb backup-all (or print a systemd timer)')
    .option('--cron <expr>', 'cron expression (env QNB_CRON, default "0 2 * * *")')
    .option('--log <file>', 'log file the cron job appends to (default /tmp/qnb-backup.log)')
    .option('--print', 'only print the crontab line')
    .option('--systemd', 'print a qnb-backup.service + qnb-backup.timer pair instead')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', COPY_TO_HELP)
    .action((opts) => host.setResult(runInstallCron(host.context({ '--cron': opts.cron }), opts)));
}

export async function runInstallCron(ctx: CommandContext, flags: InstallCronFlags): Promise<number> {
  const { automation } = ctx.loaded.config;
  const expr = automation.cron.trim();
  const source = keySource(ctx.loaded, 'automation.cron');
  const job = jobFor(ctx, flags);
  const fromEnv = envOnly(ctx);
  const envWarning = fromEnv.length
    ? `⚠ ${fromEnv.join(', ')} ${fromEnv.length > 1 ? 'come' : 'comes'} from your environment, which ${flags.systemd ? 'systemd' : 'cron'} does not have: put ${fromEnv.length > 1 ? 'them' : 'it'} in qnb.config.yaml (secrets: a *_FILE variable or EnvironmentFile)`
    : undefined;

  if (flags.systemd) {
    const onCalendar = cronToOnCalendar(expr, source);
    const log = flags.log ? resolve(ctx.io.cwd, flags.log) : undefined;
    const units = systemdUnits(job, onCalendar, expr, log);
    if (ctx.json) printJson(ctx, { ok: true, onCalendar, ...units });
    else {
      ctx.out('# ~/.config/systemd/user/qnb-backup.service');
      ctx.out(units.service);
      ctx.out('# ~/.config/systemd/user/qnb-backup.timer');
      ctx.out(units.timer);
      ctx.out('# then: systemctl --user daemon-reload && systemctl --user enable --now qnb-backup.timer');
      ctx.out('#       (and once: loginctl enable-linger $USER, so it runs while you are logged out)');
    }
    const logWarning = log ? logMessage(ctx, log, false, true) : undefined;
    if (logWarning) ctx.err(`⚠ ${logWarning.join(' — ')}`);
    if (envWarning) ctx.err(envWarning);
    return EXIT.OK;
  }

  parseCrontabCron(expr, source);
  const log = resolve(ctx.io.cwd, flags.log ?? DEFAULT_CRON_LOG);
  const line = cronLine(expr, job, log);
  if (flags.print) {
    if (ctx.json) printJson(ctx, { ok: true, line, installed: false });
    else ctx.out(line);
    const logWarning = logMessage(ctx, log, false);
    if (logWarning) ctx.err(`⚠ ${logWarning.join(' — ')}`);
    if (envWarning) ctx.err(envWarning);
    return EXIT.OK;
  }
  const logError = logMessage(ctx, log, true);
  if (logError) throw new ConfigError(...logError);
  const existing = await readCrontab(automation.crontab);
  const merged = mergeCrontab(existing, line);
  const changed = merged.text !== existing;
  if (changed) await writeCrontab(automation.crontab, merged.text);
  if (ctx.json) printJson(ctx, { ok: true, line, installed: true, changed, replaced: merged.replaced, log });
  else {
    ctx.out(
      !changed
        ? 'The crontab already holds this qnb line (unchanged):'
        : merged.replaced
          ? 'Replaced the previous qnb line in your crontab:'
          : 'Added to your crontab:',
    );
    ctx.out(`  ${line}`);
    ctx.out(`Check it with: crontab -l    Follow the log: tail -f ${log}`);
  }
  if (envWarning) ctx.err(envWarning);
  return EXIT.OK;
}
