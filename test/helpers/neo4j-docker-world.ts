/**
 * One Neo4j container (the local test image, a named data volume, a seeded typed graph) and a
 * qnb working folder pointed at it, set up in the suite's `before` and removed in its `after`.
 * The Docker e2e files share it instead of each writing the same setup.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { ensureDocker, type Neo4jContainer, startNeo4jContainer } from '../servers/neo4j/docker-harness.js';
import { type QnbRun, qnbEnv, runQnb } from './cli.js';
import { graphHash, seedTypedGraph } from './neo4j-data.js';

/** Filled in by the suite's `before`; read it inside tests only. */
export interface DockerNeo4jWorld {
  readonly password: string;
  c: Neo4jContainer;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Hash of the seeded graph, taken right after seeding. */
  original: Awaited<ReturnType<typeof graphHash>>;
  /** Runs the built qnb CLI in `cwd` with `env` (plus `extra`). */
  qnb(args: string[], extra?: Record<string, string>): Promise<QnbRun>;
}

/**
 * Registers `before`/`after` hooks in the calling suite: a container `${prefix}-<hex>` with the
 * volume `${prefix}-data-<hex>`, seeded, and a temp qnb folder whose env names the container.
 * `cleanup` runs first in `after` (e.g. to end guardians).
 */
export function useDockerNeo4j(prefix: string, opts: { cleanup?: () => void } = {}): DockerNeo4jWorld {
  const suffix = randomBytes(3).toString('hex');
  const world = {
    password: `pw-${randomBytes(6).toString('hex')}`,
    qnb: (args: string[], extra: Record<string, string> = {}) =>
      runQnb(args, { cwd: world.cwd, env: { ...world.env, ...extra }, timeoutMs: 600_000 }),
  } as DockerNeo4jWorld;
  before(async () => {
    const { dockerHost } = await ensureDocker();
    world.c = await startNeo4jContainer({
      name: `${prefix}-${suffix}`,
      volume: `${prefix}-data-${suffix}`,
      password: world.password,
    });
    await seedTypedGraph(world.c.boltUrl, world.password);
    world.original = await graphHash(world.c.boltUrl, world.password);
    world.cwd = await mkdtemp(join(tmpdir(), `${prefix}-`));
    world.env = qnbEnv({
      NEO4J_CONTAINER: world.c.name,
      NEO4J_URI: world.c.boltUrl,
      NEO4J_PASSWORD: world.password,
      DOCKER_HOST: dockerHost,
    });
  });
  after(async () => {
    opts.cleanup?.();
    await world.c?.remove({ volume: true });
    if (world.cwd) await rm(world.cwd, { recursive: true, force: true });
  });
  return world;
}
