#!/usr/bin/env node
/**
 * qnb's command line. `runCli` parses arguments and runs one command, returning its exit
 * status; the bottom of this file is the one place that calls process.exit.
 */
import { realpathSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from '@commander-js/extra-typings';
import { createRedactor, rememberedSecrets } from '../config/redact.js';
import { QnbError, toQnbError } from '../core/errors.js';
import { exitNotes } from '../core/exit-notes.js';
import { QNB_VERSION } from '../core/version.js';
import { type CommandModule, createHost } from './command.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import type { CliIO, GlobalOptions } from './io.js';

/**
 * Every command and the module that declares and runs it (`commands/<name>.ts`, one per
 * command, its options with it). A run loads only the modules of the commands its argv names
 * (`qnb list` loads neither the manager nor the targets and their clients); help, `--version`
 * and unknown commands load them all, so help lists every command.
 */
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  'backup-qdrant': () => import('./commands/backup-qdrant.js'),
  'backup-neo4j': () => import('./commands/backup-neo4j.js'),
  'backup-all': () => import('./commands/backup-all.js'),
  prune: () => import('./commands/prune.js'),
  'restore-neo4j': () => import('./commands/restore-neo4j.js'),
  restore: () => import('./commands/restore.js'),
  doctor: () => import('./commands/doctor.js'),
  list: () => import('./commands/list.js'),
  copy: () => import('./commands/copy.js'),
  'restore-qdrant': () => import('./commands/restore-qdrant.js'),
  verify: () => import('./commands/verify.js'),
  schedule: () => import('./commands/schedule.js'),
  'install-cron': () => import('./commands/install-cron.js'),
  watch: () => import('./commands/watch.js'),
  run: () => import('./commands/run.js'),
  status: () => import('./commands/status.js'),
};

/** The command modules argv needs, in the order help lists them. */
async function commandsFor(argv: string[]): Promise<CommandModule[]> {
  const end = argv.indexOf('--');
  const words = new Set(end === -1 ? argv : argv.slice(0, end));
  const named = Object.keys(COMMANDS).filter((name) => words.has(name));
  const wanted = named.length ? named : Object.keys(COMMANDS);
  return Promise.all(wanted.map((name) => COMMANDS[name]!()));
}

function buildProgram(io: CliIO, modules: CommandModule[], setResult: (p: Promise<number>) => void) {
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
  const host = createHost(io, () => program.opts() as GlobalOptions, setResult);
  for (const m of modules) m.register(program as unknown as Parameters<CommandModule['register']>[0], host);
  return program;
}

/** Runs qnb with `argv` (without node and script) and returns the exit status. */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  let result: Promise<number> | undefined;
  const program = buildProgram(io, await commandsFor(argv), (p) => {
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
      redact = createRedactor([...secretsFromEnv(io.env), ...rememberedSecrets(io)]);
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

/** Secrets known from the environment, for redacting errors raised before config loaded (or while it loads). */
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
    if (signals > 1) {
      // quitting without the cleanup: say what is left to whom (exit-notes.ts), written at once
      // (a pipe's queued output would be lost at exit), and quit whatever happens
      try {
        for (const note of exitNotes()) writeSync(2, `qnb: ${note}\n`);
      } catch {
      } finally {
        process.exit(EXIT.INTERRUPTED);
      }
    }
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
