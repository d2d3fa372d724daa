/**
 * Where Neo4j runs and how to stop it, start it and run `neo4j-admin` next to it:
 * a local install (NEO4J_HOME, `bin/neo4j`, `bin/neo4j-admin`) or a Docker container (the
 * server is the container's main process; `neo4j-admin` runs in a throwaway container of the
 * same image with the same volumes). Passwords are never passed to these commands.
 */
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { NotFoundError, QnbError } from '../../core/errors.js';

/** A running `neo4j-admin` with its streams. */
export interface AdminProcess {
  /** Stops the admin process (SIGTERM). */
  kill(): void;
  stdout: Readable;
  stdin: Writable;
  /** Resolves when it exits 0; rejects with the last lines of stderr otherwise. */
  done: Promise<void>;
}

/** Serializable description, stored in the "stopped" marker so another run can restart it. */
export type RuntimeSpec = { kind: 'local'; home: string } | { kind: 'docker'; container: string };

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
  admin(args: string[], opts?: { stdin?: boolean }): AdminProcess;
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
      ...(opts.env ? { env: opts.env } : {}),
    });
    let stdout = '';
    let stderr = '';
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
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

function lastLines(text: string, n = 2): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/** Spawns neo4j-admin and wraps its outcome. */
function spawnAdmin(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
  what: string,
  withStdin: boolean,
): AdminProcess {
  const child = spawn(cmd, args, { env, stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr = (stderr + d).slice(-8000);
  });
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new QnbError('E_IO', `${what}: cannot run neo4j-admin: ${err.message}`)),
    );
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(
          new QnbError(
            'E_SERVER',
            `${what}: neo4j-admin exited ${code ?? signal}: ${lastLines(stderr) || 'no output'}`,
          ),
        );
    });
  });
  return { kill: () => child.kill('SIGTERM'), stdout: child.stdout!, stdin: child.stdin!, done };
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
  };
}

/** A Docker container running the official image (or one that behaves like it). */
/** `childEnv`: the environment of `docker` (config.neo4j.env); undefined = qnb's own. */
export function createDockerRuntime(
  container: string,
  docker = 'docker',
  childEnv?: NodeJS.ProcessEnv,
): Neo4jRuntime {
  const what = `neo4j container "${container}"`;
  const inspect = async () => {
    const r = await runCommand(
      docker,
      ['inspect', '--format', '{{.State.Running}} {{.Config.Image}}', container],
      what,
    );
    if (r.code !== 0) {
      if (/No such (object|container)/i.test(r.stderr)) {
        throw new NotFoundError(
          `Container not found: ${container}`,
          'check the name with `docker ps -a`, or set NEO4J_CONTAINER',
        );
      }
      throw new QnbError('E_CONNECT', `${what}: docker inspect failed: ${lastLines(r.stderr)}`, {
        hint: 'is the Docker engine running? check DOCKER_HOST',
      });
    }
    const [running, image] = r.stdout.trim().split(' ');
    return { running: running === 'true', image: image ?? '' };
  };
  return {
    spec: { kind: 'docker', container },
    describe: () => `Docker container ${container}`,
    async preflight() {
      const s = await inspect();
      if (!s.running)
        throw new QnbError('E_NOT_FOUND', `${what} is not running`, {
          hint: `start it: docker start ${container}`,
        });
    },
    isRunning: async () => (await inspect()).running,
    async stop() {
      const r = await runCommand(docker, ['stop', '-t', '120', container], what, { timeoutMs: 180_000 });
      if (r.code !== 0) throw new QnbError('E_SERVER', `${what}: docker stop failed: ${lastLines(r.stderr)}`);
    },
    async start() {
      const r = await runCommand(docker, ['start', container], what, { timeoutMs: 120_000 });
      if (r.code !== 0)
        throw new QnbError('E_SERVER', `${what}: docker start failed: ${lastLines(r.stderr)}`);
    },
    admin(args, opts = {}) {
      // a throwaway container of the server's image, with its volumes and no network
      const stdout = new PassThrough();
      const stdin = new PassThrough();
      let inner: AdminProcess | undefined;
      let killed = false;
      const done = (async () => {
        const { image } = await inspect();
        if (killed) throw new QnbError('E_INTERRUPTED', `${what}: neo4j-admin cancelled`);
        const flags = [
          'run',
          '--rm',
          '--network',
          'none',
          '--volumes-from',
          container,
          ...(opts.stdin ? ['-i'] : []),
        ];
        inner = spawnAdmin(
          docker,
          [...flags, image, 'neo4j-admin', ...args],
          childEnv,
          what,
          Boolean(opts.stdin),
        );
        inner.stdout.pipe(stdout);
        if (opts.stdin) stdin.pipe(inner.stdin);
        await inner.done;
      })();
      done.catch((err) => stdout.destroy(err));
      return {
        kill: () => {
          killed = true;
          inner?.kill();
        },
        stdout,
        stdin,
        done,
      };
    },
  };
}
