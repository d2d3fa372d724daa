/**
 * Neo4j in Docker (the seed's `agent-zot-neo4j` with a data volume), driven through the real
 * qnb binary against a real Docker Engine: the server container is stopped, `neo4j-admin` runs
 * in a throwaway container of the same image with the same volumes, the container is started
 * again — also after SIGTERM — and a restore brings back exactly the same graph.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, wreckGraph } from '../helpers/neo4j-data.js';
import { useDockerNeo4j } from '../helpers/neo4j-docker-world.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { dockerAvailable } from '../servers/neo4j/docker-harness.js';

const avail = await dockerAvailable();
if (!avail.ok && IN_CI) throw new Error(`Docker (for Neo4j in a container) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Docker missing — ${avail.hint}`;

describe('Neo4j in a Docker container through the CLI', { skip, timeout: 40 * 60_000 }, () => {
  const w = useDockerNeo4j('qnb-e2e-neo4j');

  test('backup-neo4j stops the container, dumps in a throwaway container, starts it again', async () => {
    const run = await w.qnb(['backup-neo4j']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /✅ Neo4j \(neo4j\)\n {3}Dump: neo4j-\d{8}-\d{6}\.dump/);
    assert.match(run.stderr, /stopping Neo4j \(Docker container qnb-e2e-neo4j-/);
    assert.ok(await w.c.isRunning(), 'container runs again');
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, w.original.hash);
    assert.ok(!(run.stdout + run.stderr).includes(w.password));
  });

  test('wreck → restore --latest --yes → the same graph', async () => {
    await wreckGraph(w.c.boltUrl, w.password);
    const run = await w.qnb(['restore-neo4j', '--latest', '--yes']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.ok(await w.c.isRunning());
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, w.original.hash);
  });

  test('verify --deep drills the dump in throwaway containers; the live container is untouched', async () => {
    const run = await w.qnb(['verify', '--deep']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /\(sha256 \+ restore drill\)/);
    assert.ok(await w.c.isRunning());
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, w.original.hash);
  });

  test('SIGTERM while the container is stopped: it is started again', async () => {
    const proc = startQnb(['backup-neo4j'], { cwd: w.cwd, env: w.env });
    const marker = join(w.cwd, 'backups', '.qnb-neo4j-stopped.json');
    const deadline = Date.now() + 120_000;
    while (!existsSync(marker) && Date.now() < deadline) await sleep(20);
    assert.ok(existsSync(marker));
    await sleep(500);
    proc.child.kill('SIGTERM');
    const run = await proc.done;
    assert.equal(run.code, 130, run.stderr);
    assert.ok(await w.c.isRunning(), 'container runs again');
    assert.equal((await graphHash(w.c.boltUrl, w.password)).hash, w.original.hash);
  });

  test('a missing container: "Container not found", nothing touched', async () => {
    const run = await w.qnb(['backup-neo4j'], { NEO4J_CONTAINER: 'agent-zot-neo4j-missing' });
    assert.equal(run.code, 1);
    assert.match(
      run.stdout + run.stderr,
      /Container not found: agent-zot-neo4j-missing — check the name with `docker ps -a`/,
    );
    assert.ok(!hasStackTrace(run));
    assert.ok(await w.c.isRunning());
  });
});
