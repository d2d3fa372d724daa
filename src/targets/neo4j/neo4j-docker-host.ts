/**
 * What qnb needs of the Docker engine when it runs beside Neo4j, on the host or in a sidecar
 * container (docs/container.md):
 * - one clear error for each way the engine cannot be reached: no socket, a socket qnb may not
 *   open, a docker CLI that is missing;
 * - the Neo4j container by name or by label (`NEO4J_CONTAINER=label:qnb.neo4j=true`);
 * - when qnb itself runs in a container, the engine's path of a folder qnb sees: `docker run -v`
 *   paths are the engine's, so a folder on qnb's `/backups` volume is mounted by its source.
 */
import { stat } from 'node:fs/promises';
import { relative, sep } from 'node:path';
import { NotFoundError, QnbError } from '../../core/errors.js';
import { ownContainerIdSync } from '../../core/process-place.js';
import { lastLines, runCommand } from './neo4j-runtime.js';

/** `NEO4J_CONTAINER=label:KEY=VALUE` (or `label:KEY`) finds the container by label. */
export const LABEL_PREFIX = 'label:';

/** The engine's Unix socket named by DOCKER_HOST (default /var/run/docker.sock); undefined for tcp:// etc. */
export function dockerSocket(env: NodeJS.ProcessEnv | undefined): string | undefined {
  const host = env?.DOCKER_HOST;
  if (!host) return '/var/run/docker.sock';
  return host.startsWith('unix://') ? host.slice('unix://'.length) : undefined;
}

/**
 * The error for a docker command that failed before reaching the engine (no socket, no
 * permission), else undefined: the caller reports the command's own failure.
 */
export async function engineAccessError(
  stderr: string,
  env: NodeJS.ProcessEnv | undefined,
  what: string,
): Promise<QnbError | undefined> {
  const socket = dockerSocket(env);
  if (/permission denied/i.test(stderr) && /docker(\.sock| daemon socket)/i.test(stderr)) {
    const gid = socket
      ? await stat(socket).then(
          (s) => s.gid,
          () => undefined,
        )
      : undefined;
    return new QnbError(
      'E_CONNECT',
      `${what}: permission denied on the Docker socket ${socket ?? ''}`.trim(),
      {
        hint:
          gid !== undefined
            ? `give qnb the socket's group: docker run --group-add ${gid} (compose: group_add: ["${gid}"]), or run as root`
            : "give qnb the socket's group (docker run --group-add GID, compose group_add), or run as root",
      },
    );
  }
  if (/Cannot connect to the Docker daemon|Is the docker daemon running|error during connect/i.test(stderr)) {
    const exists = socket
      ? await stat(socket).then(
          () => true,
          () => false,
        )
      : true;
    if (!exists)
      return new QnbError('E_CONNECT', `${what}: no Docker socket at ${socket}`, {
        hint: "mount the engine's socket: -v /var/run/docker.sock:/var/run/docker.sock (compose: volumes), or set DOCKER_HOST",
      });
    return new QnbError('E_CONNECT', `${what}: the Docker engine does not answer: ${lastLines(stderr, 1)}`, {
      hint: 'is the Docker engine running? check DOCKER_HOST',
    });
  }
  return undefined;
}

/**
 * The container a `NEO4J_CONTAINER` value names: the value itself, or for `label:KEY[=VALUE]`
 * the one container (running or not) with that label.
 */
export async function resolveContainer(
  ref: string,
  docker: string,
  env: NodeJS.ProcessEnv | undefined,
): Promise<string> {
  if (!ref.startsWith(LABEL_PREFIX)) return ref;
  const label = ref.slice(LABEL_PREFIX.length);
  const what = `neo4j container with label ${label}`;
  const r = await runCommand(
    docker,
    ['ps', '-a', '--no-trunc', '--filter', `label=${label}`, '--format', '{{.Names}}'],
    what,
    env ? { env } : {},
  );
  if (r.code !== 0) {
    throw (
      (await engineAccessError(r.stderr, env, what)) ??
      new QnbError('E_CONNECT', `${what}: docker ps failed: ${lastLines(r.stderr)}`)
    );
  }
  const names = r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0)
    throw new NotFoundError(
      `Container not found: no container has the label ${label}`,
      `add the label to the Neo4j service (compose: labels: ["${label}"]) or set NEO4J_CONTAINER to its name`,
    );
  if (names.length > 1)
    throw new QnbError('E_USAGE', `${names.length} containers have the label ${label}: ${names.join(', ')}`, {
      hint: 'label only the Neo4j server container, or set NEO4J_CONTAINER to its name',
    });
  return names[0]!;
}

interface Mount {
  Source?: string;
  Destination?: string;
}

/**
 * The engine's path of `folder`: itself when qnb does not run in a container (or the engine does
 * not know qnb's container); in a container, the source of the volume or bind mount holding it.
 * Throws when the folder is in the container's own file system, which no other container can
 * mount.
 */
export async function enginePath(
  folder: string,
  docker: string,
  env: NodeJS.ProcessEnv | undefined,
): Promise<string> {
  const id = ownContainerIdSync();
  if (!id) return folder;
  const what = 'qnb container';
  const r = await runCommand(
    docker,
    ['inspect', '--type', 'container', '--format', '{{json .Mounts}}', id],
    what,
    env ? { env } : {},
  );
  // another engine than the one qnb runs in (e.g. Docker in Docker): it sees qnb's own paths
  if (r.code !== 0 && /No such (object|container)/i.test(r.stderr)) return folder;
  if (r.code !== 0)
    throw (
      (await engineAccessError(r.stderr, env, what)) ??
      new QnbError('E_CONNECT', `${what}: docker inspect of its own container failed: ${lastLines(r.stderr)}`)
    );
  const mounts = (JSON.parse(r.stdout) as Mount[] | null) ?? [];
  let best: { source: string; rest: string; depth: number } | undefined;
  for (const m of mounts) {
    if (!m.Source || !m.Destination) continue;
    const rest = relative(m.Destination, folder);
    if (rest.startsWith('..') || rest.startsWith(sep)) continue;
    const depth = m.Destination.length;
    if (!best || depth > best.depth) best = { source: m.Source, rest, depth };
  }
  if (!best)
    throw new QnbError('E_USAGE', `${folder} is inside the qnb container's own file system`, {
      hint: 'mount a volume or a host folder at the backups folder (e.g. -v qnb-backups:/backups), so that neo4j-admin containers can reach it',
    });
  return best.rest ? `${best.source}/${best.rest}` : best.source;
}
