/**
 * Where Neo4j runs and how to stop it, start it and run `neo4j-admin` next to it:
 * a local install (NEO4J_HOME, `bin/neo4j`, `bin/neo4j-admin`) or a Docker container (the
 * server is the container's main process; `neo4j-admin` runs in a throwaway container of the
 * same image with the same volumes). Passwords are never passed to these commands.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { PassThrough, type Writable } from 'node:stream';
import { NotFoundError, QnbError } from '../../core/errors.js';
import { noteChildEnded, noteChildStarted } from './neo4j-marker.js';
import type { RuntimeSpec } from './neo4j-runtime-spec.js';

/** Serializable description, stored in the "stopped" marker (its own file: no import cycle). */
export type { RuntimeSpec } from './neo4j-runtime-spec.js';

/** A running `neo4j-admin`. Its stdout is never used as data (an image's entrypoint may print there). */
export interface AdminProcess {
  /** Stops the admin process (SIGTERM). */
  kill(): void;
  /** Its stdin (with `{ stdin: true }`); errors such as EPIPE surface through `done`. */
  stdin: Writable;
  /** Resolves with its output when it exits 0; rejects with the last lines of it otherwise. */
  done: Promise<string>;
}

/** Options of one `neo4j-admin` run. */
export interface AdminOptions {
  /** Feed its stdin. @default false */
  stdin?: boolean;
  /** A host folder neo4j-admin may read and write, at the path `folderPath(folder)` for it. */
  folder?: string;
}

/** Start/stop and admin commands for one Neo4j installation. */
export interface Neo4jRuntime {
  readonly spec: RuntimeSpec;
  describe(): string;
  /** Checks the installation/container exists; clear NotFoundError otherwise. */
  preflight(): Promise<void>;
  isRunning(): Promise<boolean>;
  /** Clean stop (SIGTERM / `neo4j stop` / `docker stop -t`), never kill -9. Idempotent. */
  stop(): Promise<void>;
  /** Starts the server (does not wait for Bolt). Idempotent. */
  start(): Promise<void>;
  /** Runs `neo4j-admin ARGS…` next to the (stopped) server. */
  admin(args: string[], opts?: AdminOptions): AdminProcess;
  /** Where neo4j-admin sees a host folder given as `AdminOptions.folder`. */
  folderPath(folder: string): string;
}

/** Runs a command, resolves with stdout; rejects with a QnbError carrying stderr's last line. */
export function runCommand(
  cmd: string,
  args: string[],
  what: string,
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      // a process group of its own: a Ctrl-C or hang-up of qnb's terminal reaches the whole
      // foreground group, and would stop the server `neo4j start` launches (it stays in the
      // group); qnb alone decides what an interrupt stops
      detached: true,
      ...(opts.env ? { env: opts.env } : {}),
    });
    // while Neo4j is stopped by qnb, the marker names the child (a `neo4j stop` outlives a killed qnb)
    noteChildStarted(child.pid, `${cmd} ${args.join(' ')}`);
    let stdout = '';
    let stderr = '';
    for (const st of [child.stdout, child.stderr]) st.on('error', () => {});
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs) : undefined;
    child.on('error', (err) => {
      clearTimeout(timer);
      const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new QnbError(
          missing ? 'E_NOT_FOUND' : 'E_IO',
          `${what}: cannot run ${cmd}${missing ? ' (not installed)' : `: ${err.message}`}`,
        ),
      );
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      noteChildEnded(child.pid);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

/**
 * The lines of neo4j-admin's output that say why it failed: its last lines without the
 * "Run with '--verbose'" advice and Java stack frames (e.g. "Failed to dump …: No space left on
 * device | Dump failed for databases: 'neo4j'").
 */
export function adminFailure(text: string, n = 3): string {
  const noise =
    /^(Run with '--verbose'|\s+at |\s*\.\.\. \d+ more|Caused by: java\.net\.UnknownHost|java\.net\.UnknownHost|.*ERROR Could not determine local host name)/;
  const lines = text.split('\n').filter((l) => l.trim() && !noise.test(l));
  return lines.slice(-n).join(' | ').trim();
}

export function lastLines(text: string, n = 2): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/**
 * Spawns neo4j-admin (or `docker run … neo4j-admin`) and wraps its outcome. Its stdout and
 * stderr are read into one bounded tail (an unread pipe would stall it); every stream has an
 * error handler, so a child that dies while qnb writes to it (EPIPE) is reported by `done`.
 */
export function spawnAdmin(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
  what: string,
  withStdin: boolean,
  /** The name `docker run --name` gives the admin container (recorded in the stopped marker). */
  container?: string,
): AdminProcess {
  // its own process group, as runCommand's: an interrupt stops it only through qnb (kill below)
  const child = spawn(cmd, args, {
    env,
    stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const named = container ? { name: container, docker: cmd } : undefined;
  noteChildStarted(child.pid, `${cmd} ${args.slice(0, 8).join(' ')}`, named);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d).slice(-8000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const stdin = child.stdin ?? new PassThrough();
  for (const s of [stdin, child.stdout!, child.stderr!]) s.on('error', () => {});
  const done = new Promise<string>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new QnbError('E_IO', `${what}: cannot run neo4j-admin: ${err.message}`)),
    );
    child.on('close', (code, signal) => {
      noteChildEnded(child.pid);
      if (code === 0) resolve(output);
      else
        reject(
          new QnbError(
            'E_SERVER',
            `${what}: neo4j-admin exited ${code ?? signal}: ${adminFailure(output) || 'no output'}`,
          ),
        );
    });
  });
  // its whole group: neo4j-admin is a script that may not exec its JVM
  const kill = () => {
    // once it has ended its process group id may be another's
    if (child.exitCode !== null || child.signalCode !== null) return;
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {
      child.kill('SIGTERM');
    }
  };
  return { kill, stdin, done };
}

/**
 * Whether the local server runs, read the way `bin/neo4j status` reads it — the PID file in the
 * run folder (`server.directories.run`, default `run`) and that process — but without starting a
 * JVM (about 2 s each time, twice per backup). A PID is only believed when that process is a
 * Neo4j (its command line names org.neo4j), so a stale file with a reused PID reads as stopped.
 * Undefined when the run folder cannot be found: the caller asks `bin/neo4j status`.
 */
export async function runningFromPidFile(home: string, confDir: string): Promise<boolean | undefined> {
  const conf = await readFile(join(confDir, 'neo4j.conf'), 'utf8').catch(() => '');
  const configured = /^\s*server\.directories\.run\s*=\s*(.+?)\s*$/m.exec(conf)?.[1];
  const runDir = configured
    ? isAbsolute(configured)
      ? configured
      : join(home, configured)
    : join(home, 'run');
  if (
    !(await stat(runDir).then(
      (s) => s.isDirectory(),
      () => false,
    ))
  )
    return undefined;
  const pid = Number((await readFile(join(runDir, 'neo4j.pid'), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  if (cmdline === undefined) return process.platform === 'linux' ? false : undefined;
  return cmdline.includes('org.neo4j');
}

/**
 * A local install under `home`. `childEnv` is the environment its processes get (config.neo4j.env,
 * read by config/load.ts), with NEO4J_HOME set to `home` and NEO4J_CONF defaulting to `home/conf`.
 */
export function createLocalRuntime(home: string, childEnv: NodeJS.ProcessEnv = {}): Neo4jRuntime {
  const bin = (name: string) => join(home, 'bin', name);
  const env = { ...childEnv, NEO4J_HOME: home, NEO4J_CONF: childEnv.NEO4J_CONF ?? join(home, 'conf') };
  const what = `neo4j (NEO4J_HOME=${home})`;
  const neo4j = async (cmd: string) => runCommand(bin('neo4j'), [cmd], what, { timeoutMs: 300_000, env });
  return {
    spec: { kind: 'local', home },
    describe: () => `local install at ${home}`,
    async preflight() {
      const ok = await stat(bin('neo4j-admin')).then(
        (s) => s.isFile(),
        () => false,
      );
      if (!ok)
        throw new NotFoundError(
          `NEO4J_HOME ${home}: no bin/neo4j-admin there`,
          'set NEO4J_HOME to the Neo4j installation folder, or NEO4J_CONTAINER for Docker',
        );
    },
    async isRunning() {
      return (await runningFromPidFile(home, env.NEO4J_CONF)) ?? (await neo4j('status')).code === 0;
    },
    async stop() {
      const r = await neo4j('stop');
      if (r.code !== 0 && (await this.isRunning()))
        throw new QnbError('E_SERVER', `${what}: neo4j stop failed: ${lastLines(r.stdout + r.stderr)}`);
    },
    async start() {
      if (await this.isRunning()) return;
      const r = await neo4j('start');
      if (r.code !== 0)
        throw new QnbError('E_SERVER', `${what}: neo4j start failed: ${lastLines(r.stdout + r.stderr)}`, {
          hint: `see ${join(home, 'logs')}`,
        });
    },
    admin: (args, opts = {}) => spawnAdmin(bin('neo4j-admin'), args, env, what, Boolean(opts.stdin)),
    folderPath: (folder) => folder,
  };
}
