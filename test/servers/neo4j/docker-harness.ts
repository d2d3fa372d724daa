/**
 * Neo4j 5.26 in Docker for tests: a private Docker Engine (scripts/docker/start-dockerd.sh:
 * Debian's docker.io, socket /run/qnb-test-docker.sock, no bridge, no iptables) and a local image
 * qnb-test/neo4j:5.26.N that behaves like the official neo4j:5.26 image
 * (scripts/docker/build-neo4j-image.sh; QNB_NEO4J_IMAGE names another tag, built the same way). Containers use --network host only; Bolt on 127.0.0.1.
 * See docs/neo4j-testing.md.
 *
 *   const { dockerHost } = await ensureDocker();
 *   const image = await ensureNeo4jImage();
 *   const c = await startNeo4jContainer({ name, volume, boltPort, password });
 *   t.after(() => c.remove({ volume: true }));
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DOCKER_SCRIPTS, freePort, NEO4J_VERSION, type RunResult, run, waitForBolt } from './harness.js';

export const DOCKER_SOCKET = '/run/qnb-test-docker.sock';
export const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
export const NEO4J_IMAGE = process.env.QNB_NEO4J_IMAGE ?? `qnb-test/neo4j:${NEO4J_VERSION}`;

/** Debian's CLI matches the daemon's version; another `docker` on PATH works too (API negotiation). */
export const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

function dockerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST, ...extra };
}

/** Runs the docker CLI against the private engine. */
export function docker(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; stdinFile?: string; stdoutFile?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(DOCKER_CLI, args, { timeoutMs: 10 * 60_000, ...opts, env: dockerEnv(opts.env) });
}

async function dockerOk(
  args: string[],
  what: string,
  opts: Parameters<typeof docker>[1] = {},
): Promise<RunResult> {
  const r = await docker(args, opts);
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr.trim()}`);
  return r;
}

/**
 * The Docker world needs root (dockerd, debootstrap) and either an installed dockerd or apt-get
 * to install docker.io.
 */
export async function dockerAvailable(): Promise<{ ok: true } | { ok: false; hint: string }> {
  if (process.getuid?.() !== 0) return { ok: false, hint: 'needs root (dockerd, debootstrap, chroot)' };
  const has = (cmd: string) =>
    new Promise<boolean>((r) => execFile('sh', ['-c', `command -v ${cmd}`], (err) => r(!err)));
  if (!(await has('dockerd')) && !(await has('apt-get'))) {
    return { ok: false, hint: 'no dockerd and no apt-get to install docker.io' };
  }
  if (!(await has('java')) || !(await has('mvn'))) {
    return {
      ok: false,
      hint: 'java and mvn are needed to fetch Neo4j: apt-get install openjdk-17-jdk-headless maven',
    };
  }
  return { ok: true };
}

let enginePromise: Promise<{ dockerHost: string }> | undefined;

/** Starts (or reuses) the private Docker Engine; installs docker.io on first use. */
export function ensureDocker(): Promise<{ dockerHost: string }> {
  enginePromise ??= (async () => {
    const r = await run(join(DOCKER_SCRIPTS, 'start-dockerd.sh'), [], { timeoutMs: 15 * 60_000 });
    if (r.code !== 0) {
      enginePromise = undefined;
      throw new Error(
        `start-dockerd.sh failed (${r.code}): ${r.stderr.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
    const m = /export DOCKER_HOST=(\S+)/.exec(r.stdout);
    return { dockerHost: m?.[1] ?? DOCKER_HOST };
  })();
  return enginePromise;
}

let imagePromise: Promise<string> | undefined;

/** Builds qnb-test/neo4j:<version> unless it is there (cold ~1–2 min, warm instant). */
export function ensureNeo4jImage(): Promise<string> {
  imagePromise ??= (async () => {
    await ensureDocker();
    const r = await run(join(DOCKER_SCRIPTS, 'build-neo4j-image.sh'), [], {
      env: dockerEnv({ DOCKER: DOCKER_CLI, QNB_NEO4J_IMAGE: NEO4J_IMAGE }),
      timeoutMs: 20 * 60_000,
    });
    if (r.code !== 0) {
      imagePromise = undefined;
      throw new Error(
        `build-neo4j-image.sh failed (${r.code}): ${r.stderr.trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    return r.stdout.trim().split('\n').pop() ?? NEO4J_IMAGE;
  })();
  return imagePromise;
}

export interface Neo4jContainer {
  name: string;
  volume: string;
  image: string;
  boltPort: number;
  boltUrl: string;
  user: 'neo4j';
  password: string;
  /** `docker start` + wait for Bolt (≤ 120 s). */
  start(): Promise<{ ms: number }>;
  /** `docker stop -t 120` (SIGTERM → clean shutdown); reports the exit code. */
  stop(opts?: { timeoutSec?: number }): Promise<{ ms: number; exitCode: number }>;
  isRunning(): Promise<boolean>;
  /**
   * Runs `neo4j-admin ARGS` in a throwaway container of the same image with this container's
   * volumes (`docker run --rm --volumes-from NAME`); the server container must be stopped.
   */
  admin(args: string[], opts?: { stdinFile?: string; stdoutFile?: string }): Promise<RunResult>;
  logs(): Promise<string>;
  /** Removes the container with its anonymous volumes (and its data volume with `{ volume: true }`). */
  remove(opts?: { volume?: boolean }): Promise<void>;
}

export interface StartNeo4jContainerOptions {
  name: string;
  /** Named volume mounted at /data (created if missing). */
  volume: string;
  /** Default: a free port. */
  boltPort?: number;
  password: string;
  /** Extra environment for the container (NEO4J_<setting> variables become neo4j.conf settings). */
  env?: Record<string, string>;
  /** `docker run --user UID:GID`, as the official image's docs describe for bind-mounted data. */
  user?: string;
  /** A host folder bind-mounted at /data instead of the named volume (`-v DIR:/data`). */
  dataDir?: string;
  /** Container labels (`--label KEY=VALUE`), e.g. `qnb.neo4j=true` for a qnb sidecar. */
  labels?: string[];
}

/**
 * `docker run -d --network host -v VOLUME:/data -e NEO4J_AUTH -e NEO4J_BOLT_PORT IMAGE`, then waits
 * for Bolt. The password goes to docker through the environment, never through argv.
 */
export async function startNeo4jContainer(opts: StartNeo4jContainerOptions): Promise<Neo4jContainer> {
  const image = await ensureNeo4jImage();
  const boltPort = opts.boltPort ?? (await freePort());
  const extraEnv = opts.env ?? {};
  const containerEnv: NodeJS.ProcessEnv = {
    ...extraEnv,
    NEO4J_AUTH: `neo4j/${opts.password}`,
    NEO4J_BOLT_PORT: String(boltPort),
  };
  const envArgs = Object.keys(containerEnv).flatMap((k) => ['-e', k]);
  if (!opts.dataDir) await dockerOk(['volume', 'create', opts.volume], 'docker volume create');
  const t0 = Date.now();
  await dockerOk(
    [
      'run',
      '-d',
      '--name',
      opts.name,
      '--network',
      'host',
      ...(opts.user ? ['--user', opts.user] : []),
      ...(opts.labels ?? []).flatMap((l) => ['--label', l]),
      '-v',
      `${opts.dataDir ?? opts.volume}:/data`,
      ...envArgs,
      image,
    ],
    'docker run',
    { env: containerEnv },
  );
  const boltUrl = `bolt://127.0.0.1:${boltPort}`;
  const c: Neo4jContainer = {
    name: opts.name,
    volume: opts.volume,
    image,
    boltPort,
    boltUrl,
    user: 'neo4j',
    password: opts.password,
    async logs() {
      const r = await docker(['logs', '--tail', '40', opts.name]);
      return `${r.stdout}${r.stderr}`;
    },
    async isRunning() {
      const r = await docker(['inspect', '-f', '{{.State.Running}}', opts.name]);
      return r.code === 0 && r.stdout.trim() === 'true';
    },
    async start() {
      const s = Date.now();
      await dockerOk(['start', opts.name], 'docker start');
      await waitForBoltOrExplain(c);
      return { ms: Date.now() - s };
    },
    async stop(o = {}) {
      const s = Date.now();
      await dockerOk(['stop', '-t', String(o.timeoutSec ?? 120), opts.name], 'docker stop', {
        timeoutMs: ((o.timeoutSec ?? 120) + 30) * 1000,
      });
      const r = await dockerOk(['inspect', '-f', '{{.State.ExitCode}}', opts.name], 'docker inspect');
      return { ms: Date.now() - s, exitCode: Number(r.stdout.trim()) };
    },
    admin(args, o = {}) {
      return docker(
        [
          'run',
          '--rm',
          ...(o.stdinFile ? ['-i'] : []),
          '--network',
          'host',
          '--volumes-from',
          opts.name,
          image,
          'neo4j-admin',
          ...args,
        ],
        o,
      );
    },
    async remove(o = {}) {
      // -v: the anonymous /logs volume goes with the container
      await docker(['rm', '-f', '-v', opts.name]);
      if (o.volume && !opts.dataDir) await docker(['volume', 'rm', '-f', opts.volume]);
    },
  };
  try {
    await waitForBoltOrExplain(c, Math.max(1_000, 120_000 - (Date.now() - t0)));
  } catch (e) {
    await c.remove();
    throw e;
  }
  return c;
}

async function waitForBoltOrExplain(c: Neo4jContainer, timeoutMs = 120_000): Promise<void> {
  try {
    await waitForBolt(c.boltUrl, c.user, c.password, timeoutMs);
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- docker logs ${c.name}\n${await c.logs()}`);
  }
}

/** Runs `neo4j-admin ARGS` in a throwaway container on a named volume (e.g. load into a new volume). */
export async function adminOnVolume(
  volume: string,
  args: string[],
  opts: { stdinFile?: string; stdoutFile?: string } = {},
): Promise<RunResult> {
  const image = await ensureNeo4jImage();
  await dockerOk(['volume', 'create', volume], 'docker volume create');
  return docker(
    [
      'run',
      '--rm',
      ...(opts.stdinFile ? ['-i'] : []),
      '--network',
      'host',
      '-v',
      `${volume}:/data`,
      image,
      'neo4j-admin',
      ...args,
    ],
    opts,
  );
}

/** Removes a named volume (no error when it is not there). */
export async function removeVolume(volume: string): Promise<void> {
  await docker(['volume', 'rm', '-f', volume]);
}
