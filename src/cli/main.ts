#!/usr/bin/env node
/**
 * qnb's command line. `runCli` parses arguments and runs one command, returning its exit
 * status; the bottom of this file is the one place that calls process.exit.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from '@commander-js/extra-typings';
import { createRedactor } from '../config/redact.js';
import { QnbError, toQnbError } from '../core/errors.js';
import { QNB_VERSION } from '../core/version.js';
import { createContext } from './context.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { CliIO, GlobalOptions } from './io.js';

// biome-ignore lint/suspicious/noExplicitAny: any command function
type AnyCommand = (...args: any[]) => Promise<number>;

/**
 * A command function whose module loads on its first call: `qnb --version` loads no command,
 * and `qnb list` only its own (not the manager, the targets and their clients).
 */
function lazy<M, K extends keyof M>(load: () => Promise<M>, name: K): M[K] {
  return (async (...args: unknown[]) => ((await load())[name] as AnyCommand)(...args)) as M[K];
}

const runBackupAll = lazy(() => import('./commands/backup-all.js'), 'runBackupAll');
const runBackupNeo4j = lazy(() => import('./commands/backup-neo4j.js'), 'runBackupNeo4j');
const runBackupQdrant = lazy(() => import('./commands/backup-qdrant.js'), 'runBackupQdrant');
const runDoctorCommand = lazy(() => import('./commands/doctor.js'), 'runDoctorCommand');
const runList = lazy(() => import('./commands/list.js'), 'runList');
const runPrune = lazy(() => import('./commands/prune.js'), 'runPrune');
const runRestore = lazy(() => import('./commands/restore.js'), 'runRestore');
const runRestoreNeo4j = lazy(() => import('./commands/restore-neo4j.js'), 'runRestoreNeo4j');
const runRestoreQdrant = lazy(() => import('./commands/restore-qdrant.js'), 'runRestoreQdrant');
const runVerify = lazy(() => import('./commands/verify.js'), 'runVerify');

/** Off-site copy commands, loaded on use (they may load the S3 SDK). */
const offsite = () => import('./commands/copy.js');

function buildProgram(io: CliIO, setResult: (p: Promise<number>) => void) {
  const program = new Command('qnb')
    .description('Back up, restore and verify Qdrant collections and Neo4j databases')
    .version(QNB_VERSION)
    .option('--json', 'print results as JSON')
    .option('--config <file>', 'config file (default: ./qnb.config.json or .yaml)')
    .option('--backup-dir <dir>', 'backups folder (env QNB_BACKUP_DIR, default ./backups)')
    .option('--qdrant-url <url>', 'Qdrant URL (env QDRANT_URL, default http://localhost:6333)')
    .option(
      '--qdrant-node <url>',
      'REST URL of a node of a Qdrant cluster (repeatable; env QDRANT_NODE_URLS)',
      (v: string, prev?: string[]) => [...(prev ?? []), v],
    )
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError('(run qnb --help for usage)');
  const global = () => program.opts() as GlobalOptions;

  program
    .command('backup-qdrant')
    .description('snapshot Qdrant collections and download them into backups/qdrant/')
    .addOption(new Option('-c, --collection <name...>', 'collection to back up (repeatable; default: all)'))
    .option('--full', 'full-storage snapshot (all collections and aliases) instead of one per collection')
    .option('--keep-server-snapshots', 'leave the snapshots on the Qdrant server after downloading')
    .action((opts) => setResult(runBackupQdrant(createContext(io, global()), opts)));

  const modeHelp =
    'dump (neo4j-admin; Community: Neo4j stopped meanwhile) or export (online over Bolt, no downtime); env NEO4J_MODE';
  const modes = ['dump', 'export'] as const;

  program
    .command('backup-neo4j')
    .description(
      'back up the Neo4j database into backups/neo4j/: a dump (Community: stops Neo4j and always starts it again) or an online export',
    )
    .addOption(new Option('--mode <mode>', modeHelp).choices(modes))
    .addOption(new Option('--neo4j-mode <mode>', modeHelp).choices(modes).hideHelp())
    .action((opts) =>
      setResult(runBackupNeo4j(createContext(io, global(), { '--neo4j-mode': opts.mode ?? opts.neo4jMode }))),
    );

  program
    .command('backup-all')
    .description('back up every Qdrant collection and the Neo4j database as one backup set')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option(
      '--keep-last <n>',
      'backups kept per target after a successful set (env QNB_KEEP_LAST, default 5)',
    )
    .option('--no-cleanup', 'do not run retention after the backup')
    .option(
      '--copy-to <target>',
      'then copy the set to a folder or s3://bucket/prefix (retention only after)',
    )
    .addOption(new Option('--neo4j-mode <mode>', modeHelp).choices(modes))
    .action((opts) => {
      setResult(
        runBackupAll(
          createContext(io, global(), { '--keep-last': opts.keepLast, '--neo4j-mode': opts.neo4jMode }),
          opts,
        ),
      );
    });

  program
    .command('prune')
    .description('delete old backups by policy; never a target’s newest valid backup, never unknown files')
    .option('--keep-last <n>', 'keep the N newest backups per target (default: QNB_KEEP_LAST or 5)')
    .option('--keep-daily <n>', 'keep the newest backup of each of the last N days')
    .option('--keep-weekly <n>', 'keep the newest backup of each of the last N weeks')
    .option('--keep-monthly <n>', 'keep the newest backup of each of the last N months')
    .option('--gfs', 'grandfather-father-son defaults: 5 daily, 4 weekly, 3 monthly')
    .option('--dry-run', 'show what would be deleted, delete nothing')
    .option('--remote <target>', 'prune a copy target (folder or s3://bucket/prefix) instead')
    .action((opts) => {
      const c = createContext(io, global(), { '--keep-last': opts.keepLast });
      setResult(
        opts.remote ? offsite().then((m) => m.runPruneRemote(c, opts.remote!, opts)) : runPrune(c, opts),
      );
    });

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
    .action((file, opts) => {
      const c = createContext(io, global());
      setResult(
        opts.from
          ? offsite().then((m) => m.runRestoreNeo4jFrom(c, opts.from!, file, opts))
          : runRestoreNeo4j(c, file, opts),
      );
    });

  program
    .command('restore')
    .description(
      'restore a whole backup set: every Qdrant collection and the Neo4j database to the same point',
    )
    .argument('[set]', 'backup set id (see `qnb list --json`)')
    .option('--latest', 'the newest complete backup set')
    .option('-y, --yes', 'allow overwriting (a safety backup set of the current state is taken first)')
    .option('--force', 'restore files that differ from their manifest, or across versions')
    .option('--from <target>', 'fetch the set from a copy target (folder or s3://bucket/prefix) first')
    .action((set, opts) => {
      const c = createContext(io, global());
      setResult(
        opts.from
          ? offsite().then((m) => m.runRestoreSetFrom(c, opts.from!, set, opts))
          : runRestore(c, set, opts),
      );
    });

  program
    .command('doctor')
    .description(
      'check every prerequisite (Qdrant, API key, Neo4j, container, neo4j-admin, disk, lock) and say what to do',
    )
    .option('--skip-neo4j', 'do not check Neo4j')
    .option('--skip-qdrant', 'do not check Qdrant')
    .action((opts) => setResult(runDoctorCommand(createContext(io, global()), opts)));

  program
    .command('list')
    .description('list backups grouped by target, newest first')
    .option('--remote <target>', 'list the copies on a folder or s3://bucket/prefix instead')
    .action((opts) => {
      const c = createContext(io, global());
      setResult(opts.remote ? offsite().then((m) => m.runListRemote(c, opts.remote!)) : runList(c));
    });

  program
    .command('copy')
    .description('copy backup sets that are not there yet to a folder or S3, verified by sha256')
    .option('--to <target>', 'a folder (external drive) or s3://bucket/prefix (env QNB_COPY_TO)')
    .option('--dry-run', 'show what would be sent, send nothing')
    .action((opts) => setResult(offsite().then((m) => m.runCopy(createContext(io, global()), opts))));

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
    .action((file, opts) => {
      const c = createContext(io, global());
      setResult(
        opts.from
          ? offsite().then((m) => m.runRestoreQdrantFrom(c, opts.from!, file, opts))
          : runRestoreQdrant(c, file, opts),
      );
    });

  program
    .command('verify')
    .description('re-hash backup files against their manifests')
    .argument('[target]', 'a backup set id or a backup file (default: everything)')
    .option(
      '--deep',
      'restore drill: restore into a scratch collection / scratch Neo4j and compare counts and sampled records',
    )
    .option(
      '--from <target>',
      'verify the copies on a folder or s3://bucket/prefix (read back and re-hashed)',
    )
    .action((target, opts) => {
      const c = createContext(io, global());
      setResult(
        opts.from
          ? offsite().then((m) => m.runVerifyFrom(c, opts.from!, target, opts))
          : runVerify(c, target, opts),
      );
    });

  registerAutomation(program, io, global, setResult);
  return program;
}

/** schedule, install-cron, watch, run, status (loaded on use, so other commands start fast). */
function registerAutomation(
  program: Command,
  io: CliIO,
  global: () => GlobalOptions,
  setResult: (p: Promise<number>) => void,
) {
  const ctx = (flags: Record<string, unknown> = {}) => createContext(io, global(), flags);
  program
    .command('schedule')
    .description('long-running scheduler: backup-all on a cron schedule (default daily 02:00), for a service')
    .option(
      '--cron <expr>',
      'cron expression, 5 fields or 6 with seconds (env QNB_CRON, default "0 2 * * *")',
    )
    .option('--tz <zone>', 'IANA time zone of the schedule (env QNB_TZ, default: local)')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', 'then copy to a folder or s3://bucket/prefix (retention only after)')
    .action((opts) =>
      setResult(
        import('./commands/schedule.js').then((m) =>
          m.runSchedule(ctx({ '--cron': opts.cron, '--tz': opts.tz }), opts),
        ),
      ),
    );

  program
    .command('install-cron')
    .description('install the crontab line that runs qnb backup-all (or print a systemd timer)')
    .option('--cron <expr>', 'cron expression (env QNB_CRON, default "0 2 * * *")')
    .option('--log <file>', 'log file the cron job appends to (default /tmp/qnb-backup.log)')
    .option('--print', 'only print the crontab line')
    .option('--systemd', 'print a qnb-backup.service + qnb-backup.timer pair instead')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', 'then copy to a folder or s3://bucket/prefix (retention only after)')
    .action((opts) =>
      setResult(
        import('./commands/install-cron.js').then((m) =>
          m.runInstallCron(ctx({ '--cron': opts.cron }), opts),
        ),
      ),
    );

  program
    .command('watch')
    .description('back up when a file (e.g. zotero.sqlite) changes, at most once per cooldown')
    .argument('<path>', 'file to watch')
    .option(
      '--debounce <duration>',
      'quiet time that ends a burst of changes (env QNB_WATCH_DEBOUNCE, default 30s)',
    )
    .option('--cooldown <duration>', 'least time between two backups (env QNB_WATCH_COOLDOWN, default 1h)')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option('--copy-to <target>', 'then copy to a folder or s3://bucket/prefix (retention only after)')
    .action((path, opts) =>
      setResult(
        import('./commands/watch.js').then((m) =>
          m.runWatch(ctx({ '--debounce': opts.debounce, '--cooldown': opts.cooldown }), path, opts),
        ),
      ),
    );

  program
    .command('run')
    .description('back up, then run a risky command only if the backup is ok: qnb run -- CMD ARGS…')
    .argument('<command...>', 'the command and its arguments, after --')
    .option('--skip-neo4j', 'leave Neo4j out')
    .option('--skip-qdrant', 'leave Qdrant out')
    .option(
      '--copy-to <target>',
      'copy the backup to a folder or s3://bucket/prefix too; CMD runs only if it worked',
    )
    .action((command, opts) =>
      setResult(import('./commands/run.js').then((m) => m.runRun(ctx(), command, opts))),
    );

  program
    .command('status')
    .description('last good backup per target, age and size trend; exit 6 when stale, failing or shrunk')
    .option('--max-age <duration>', 'older last good backups are stale (env QNB_MAX_AGE, default 26h)')
    .option(
      '--remote <target>',
      'also show where each set is: here, on this folder or s3://bucket/prefix, or both (default: QNB_COPY_TO)',
    )
    .option('--no-remote', 'only the backups folder, even when QNB_COPY_TO is set')
    .action((opts) =>
      setResult(
        import('./commands/status.js').then((m) => m.runStatus(ctx({ '--max-age': opts.maxAge }), opts)),
      ),
    );
}

/** Runs qnb with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let result: Promise<number> | undefined;
  const program = buildProgram(io, (p) => {
    result = p;
  });
  const json = argv.includes('--json');
  let redact = (s: string) => s;
  try {
    await program.parseAsync(argv, { from: 'user' });
    if (!result) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    return await result;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    const e = toQnbError(err, io.signal);
    try {
      redact = createRedactor(secretsFromEnv(io.env));
    } catch {
      // keep identity
    }
    if (json) {
      io.stdout.write(
        `${redact(JSON.stringify({ ok: false, error: { code: e.code, message: e.message, hint: e.hint } }))}\n`,
      );
    } else {
      io.stderr.write(`${redact(`✘ ${e.message}${e.hint ? ` — ${e.hint}` : ''}`)}\n`);
    }
    if (e.code === 'E_INTERNAL' && !(err instanceof QnbError) && err instanceof Error && err.stack) {
      io.stderr.write(`${redact(`qnb bug — please report it with this trace:\n${err.stack}`)}\n`);
    }
    return exitCodeFor(e.code);
  }
}

/** Secrets known from the environment, for redacting errors raised before config loaded. */
function secretsFromEnv(env: NodeJS.ProcessEnv): string[] {
  return [
    env.QDRANT_API_KEY,
    env.NEO4J_PASSWORD,
    env.AWS_ACCESS_KEY_ID,
    env.AWS_SECRET_ACCESS_KEY,
    env.AWS_SESSION_TOKEN,
  ].filter((s): s is string => !!s);
}

function isMain(): boolean {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(EXIT.INTERRUPTED);
    process.stderr.write(`\n${sig}: stopping safely (press again to quit at once)…\n`);
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const io: CliIO = {
    stdout: process.stdout,
    stderr: process.stderr,
    isTTY: Boolean(process.stderr.isTTY),
    env: process.env,
    cwd: process.cwd(),
    signal: controller.signal,
  };
  runCli(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
      // exit only once stdout/stderr are flushed (a slow pipe reader must get every byte), but
      // exit even if a keep-alive socket or a timer is still open
      const flushed = (s: NodeJS.WriteStream) => new Promise<void>((resolve) => s.write('', () => resolve()));
      Promise.all([flushed(process.stdout), flushed(process.stderr)]).then(() => process.exit(code));
    },
    (err) => {
      process.stderr.write(`qnb bug: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(EXIT.FAILED);
    },
  );
}
