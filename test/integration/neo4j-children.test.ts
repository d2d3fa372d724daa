/**
 * Recovery after a crash waits for the `neo4j-admin` container a Docker runtime ran: killing qnb
 * (and with it the `docker run` client) leaves the container loading or dumping on the server's
 * volumes, and starting Neo4j before it ends would race it. The marker names the container; the
 * guardian (and the next run) wait until it has ended. A real container on the private engine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { waitForChildren } from '../../src/targets/neo4j/neo4j-children.js';
import type { StoppedMarker } from '../../src/targets/neo4j/neo4j-marker.js';
import { requireComponent } from '../helpers/components.js';
import {
  DOCKER_CLI,
  DOCKER_HOST,
  docker,
  dockerAvailable,
  ensureDocker,
  ensureNeo4jImage,
} from '../servers/neo4j/docker-harness.js';

test('recovery waits for an admin container whose docker client died with qnb', {
  timeout: 600_000,
}, async (t) => {
  const avail = await dockerAvailable();
  if (!requireComponent(t, 'docker', avail.ok, avail.ok ? '' : avail.hint)) return;
  await ensureDocker();
  const image = await ensureNeo4jImage();
  // waitForChildren runs `docker inspect` with qnb's environment, as the guardian does
  process.env.DOCKER_HOST = DOCKER_HOST;
  const name = `qnb-admin-i15test-${randomBytes(4).toString('hex')}`;
  const run = await docker([
    'run',
    '-d',
    '--rm',
    '--name',
    name,
    '--network',
    'none',
    '--entrypoint',
    'sleep',
    image,
    '8',
  ]);
  assert.equal(run.code, 0, run.stderr);
  t.after(() => docker(['rm', '-f', name]));
  const started = Date.now();
  // the client that ran it is gone, as after a kill -9 of qnb
  const deadPid = spawnSync('true').pid;
  const marker: StoppedMarker = {
    runtime: { kind: 'docker', container: 'unused' },
    pid: deadPid,
    procStart: null,
    host: 'test',
    since: new Date().toISOString(),
    wasRunning: true,
    children: [
      {
        pid: deadPid,
        procStart: null,
        what: 'docker run --rm neo4j-admin database load',
        container: { name, docker: DOCKER_CLI },
      },
    ],
  };
  const logged: string[] = [];
  await waitForChildren(marker, (m) => logged.push(m), 120_000);
  const waited = Date.now() - started;
  assert.ok(waited >= 6_000, `returned after ${waited} ms while the admin container still ran`);
  const after = await docker(['inspect', '--format', '{{.State.Running}}', name]);
  assert.ok(after.code !== 0 || after.stdout.trim() !== 'true', 'the admin container still runs');
  assert.ok(
    logged.some((l) => l.includes(name)),
    `the log names the container: ${logged.join(' | ')}`,
  );
});
