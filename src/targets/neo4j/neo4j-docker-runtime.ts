/**
 * Neo4j in a Docker container running the official `neo4j:5` image (or one that behaves like
 * it). The server is the container's main process: stop = `docker stop -t 120` (SIGTERM, clean
 * shutdown), start = `docker start`. `neo4j-admin` runs in a throwaway container made to match
 * the server's (read with `docker inspect`): the same image id, the same user (`--user`), the
 * same `NEO4J_*` settings and the same mounts (`--volumes-from`), no network, removed with its
 * anonymous volumes (`--rm`). The image's entrypoint still runs (it turns NEO4J_* variables into
 * neo4j.conf and may fix ownership), and it may print warnings on stdout, so stdout is never
 * data: a dump is written by neo4j-admin into a mounted folder (`--to-path`). docs/neo4j.md.
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import { NotFoundError, QnbError } from '../../core/errors.js';
import { engineAccessError, enginePath, LABEL_PREFIX, resolveContainer } from './neo4j-docker-host.js';
import { type AdminProcess, lastLines, type Neo4jRuntime, runCommand, spawnAdmin } from './neo4j-runtime.js';

/** Where a throwaway admin container sees the folder given as `AdminOptions.folder`. */
export const CONTAINER_FOLDER = '/qnb-backup';

/** The official image's `neo4j` user, which its entrypoint switches to when started as root. */
const IMAGE_NEO4J_ID = 7474;

/** What qnb reads of a container. */
export interface ContainerInfo {
  running: boolean;
  /** Image id (sha256:…): the throwaway container uses exactly the server's image. */
  imageId: string;
  /** `--user` of the server container ('' = the image's default, root). */
  user: string;
  /** Its NEO4J_* variables (configuration for the image's entrypoint). */
  neo4jEnv: Record<string, string>;
}

/**
 * Variables not passed to admin containers: NEO4J_AUTH is only used to set the initial
 * password when the server starts, and keeping it out keeps the password out of one more process.
 */
const NOT_FOR_ADMIN = new Set(['NEO4J_AUTH', 'NEO4J_AUTH_PATH', 'NEO4J_AUTH_FILE']);

/** `docker inspect` of one container; NotFoundError when there is none of that name. */
export async function inspectContainer(
  container: string,
  docker = 'docker',
  env?: NodeJS.ProcessEnv,
): Promise<ContainerInfo> {
  const what = `neo4j container "${container}"`;
  const r = await runCommand(
    docker,
    ['inspect', '--type', 'container', '--format', '{{json .}}', container],
    what,
    env ? { env } : {},
  );
  if (r.code !== 0) {
    if (/No such (object|container)/i.test(r.stderr)) {
      throw new NotFoundError(
        `Container not found: ${container}`,
        `check the name with \`docker ps -a\`, or set NEO4J_CONTAINER (a name, or ${LABEL_PREFIX}qnb.neo4j=true to find it by label)`,
      );
    }
    throw (
      (await engineAccessError(r.stderr, env, what)) ??
      new QnbError('E_CONNECT', `${what}: docker inspect failed: ${lastLines(r.stderr)}`, {
        hint: 'is the Docker engine running? check DOCKER_HOST',
      })
    );
  }
  const j = JSON.parse(r.stdout) as {
    Image?: string;
    State?: { Running?: boolean };
    Config?: { Image?: string; User?: string; Env?: string[] };
  };
  const neo4jEnv: Record<string, string> = {};
  for (const kv of j.Config?.Env ?? []) {
    const eq = kv.indexOf('=');
    const name = kv.slice(0, eq);
    if (eq > 0 && /^NEO4J_\w+$/.test(name) && !NOT_FOR_ADMIN.has(name)) neo4jEnv[name] = kv.slice(eq + 1);
  }
  return {
    running: j.State?.Running === true,
    imageId: j.Image ?? j.Config?.Image ?? '',
    user: j.Config?.User ?? '',
    neo4jEnv,
  };
}

/**
 * Lets the container's user write `folder`: chowned to it when qnb may (root), otherwise opened
 * to all (the folder is inside the backups folder, and removed right after).
 */
async function shareFolder(folder: string, user: string): Promise<void> {
  const [u, g] = user.split(':');
  const numeric = (x: string | undefined) => (x && /^\d+$/.test(x) ? Number(x) : undefined);
  // no user, or root: the official entrypoint runs neo4j-admin as its neo4j user
  const asRoot = !u || u === '0' || u === 'root';
  const uid = asRoot ? IMAGE_NEO4J_ID : numeric(u);
  const gid = asRoot ? IMAGE_NEO4J_ID : (numeric(g) ?? uid);
  if (uid !== undefined && gid !== undefined) {
    const ok = await chown(folder, uid, gid).then(
      () => true,
      () => false,
    );
    if (ok) return;
  }
  await chmod(folder, 0o777);
}

/**
 * A Docker container running the official image (or one that behaves like it). `ref`: its name,
 * or `label:KEY=VALUE` to find it by label (resolved on first use; `spec` then names it).
 * `childEnv`: the environment of `docker` (config.neo4j.env); undefined = qnb's own.
 */
export function createDockerRuntime(
  ref: string,
  docker = 'docker',
  childEnv?: NodeJS.ProcessEnv,
): Neo4jRuntime {
  let container = ref;
  let resolved: Promise<string> | undefined;
  const name = () => {
    resolved ??= resolveContainer(ref, docker, childEnv).then((n) => {
      container = n;
      return n;
    });
    resolved.catch(() => {
      resolved = undefined;
    });
    return resolved;
  };
  const what = () => `neo4j container "${container}"`;
  const inspect = async () => inspectContainer(await name(), docker, childEnv);
  const cmdOpts = (timeoutMs: number) => ({ timeoutMs, ...(childEnv ? { env: childEnv } : {}) });
  return {
    get spec() {
      return { kind: 'docker' as const, container };
    },
    describe: () => `Docker container ${container}`,
    async preflight() {
      const s = await inspect();
      if (!s.running)
        throw new QnbError('E_NOT_FOUND', `${what()} is not running`, {
          hint: `start it: docker start ${container}`,
        });
    },
    isRunning: async () => (await inspect()).running,
    async stop() {
      const r = await runCommand(docker, ['stop', '-t', '120', await name()], what(), cmdOpts(180_000));
      if (r.code !== 0)
        throw new QnbError('E_SERVER', `${what()}: docker stop failed: ${lastLines(r.stderr)}`);
    },
    async start() {
      const r = await runCommand(docker, ['start', await name()], what(), cmdOpts(120_000));
      if (r.code !== 0)
        throw new QnbError('E_SERVER', `${what()}: docker start failed: ${lastLines(r.stderr)}`);
    },
    folderPath: () => CONTAINER_FOLDER,
    admin(args, opts = {}) {
      const stdin = new PassThrough();
      let inner: AdminProcess | undefined;
      let killed = false;
      const done = (async () => {
        const info = await inspect();
        if (opts.folder) await shareFolder(opts.folder, info.user);
        // the engine mounts ITS path of the folder (qnb's own in a sidecar differs)
        const source = opts.folder ? await enginePath(opts.folder, docker, childEnv) : undefined;
        if (killed) throw new QnbError('E_INTERRUPTED', `${what()}: neo4j-admin cancelled`);
        // values reach docker through its environment (`-e NAME`), never through argv
        const envNames = Object.keys(info.neo4jEnv);
        // named, so that a guardian can wait for it if qnb dies meanwhile (neo4j-children.ts)
        const adminName = `qnb-admin-${randomBytes(6).toString('hex')}`;
        const flags = [
          'run',
          '--rm',
          '--name',
          adminName,
          '--network',
          'none',
          '--volumes-from',
          container,
          ...(info.user ? ['--user', info.user] : []),
          ...envNames.flatMap((n) => ['-e', n]),
          ...(source ? ['-v', `${source}:${CONTAINER_FOLDER}`] : []),
          ...(opts.stdin ? ['-i'] : []),
        ];
        inner = spawnAdmin(
          docker,
          [...flags, info.imageId, 'neo4j-admin', ...args],
          { ...(childEnv ?? process.env), ...info.neo4jEnv },
          what(),
          Boolean(opts.stdin),
          adminName,
        );
        if (opts.stdin) stdin.pipe(inner.stdin);
        return await inner.done;
      })();
      // a writer into `stdin` learns that the admin process is gone instead of waiting forever
      done.catch((err) => stdin.destroy(err));
      return {
        kill: () => {
          killed = true;
          inner?.kill();
        },
        stdin,
        done,
      };
    },
  };
}
