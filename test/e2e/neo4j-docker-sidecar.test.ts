/**
 * qnb as a sidecar container (Dockerfile, docs/container.md), against the private Docker Engine:
 * the image built by scripts/docker/build-qnb-image.sh (the Dockerfile's offline test target),
 * the Docker socket mounted with its group added, a named backups volume, the Neo4j password from
 * a file (NEO4J_PASSWORD_FILE), the Neo4j container found by its label `qnb.neo4j=true`, the
 * Qdrant test server on 127.0.0.1 (`--network host`). `schedule` fires a backup set (Neo4j is
 * stopped and started again by the sidecar), the healthcheck turns from unhealthy to healthy, a
 * restore through `docker run --rm` brings a wrecked graph back, `qnb doctor` names what a
 * container lacks, and `docker stop` ends the sidecar cleanly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { clientFor, seedCollections } from '../helpers/qdrant-data.js';
import {
  DOCKER_CLI,
  DOCKER_SOCKET,
  docker,
  dockerAvailable,
  ensureDocker,
  type Neo4jContainer,
  startNeo4jContainer,
} from '../servers/neo4j/docker-harness.js';
import { DOCKER_SCRIPTS, run } from '../servers/neo4j/harness.js';
import type { QdrantTestServer } from '../servers/qdrant/index.js';
import { ValidatedServers } from '../servers/qdrant/testing.js';

const avail = await dockerAvailable();
if (!avail.ok && IN_CI)
  throw new Error(`Docker (for the qnb sidecar image) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Docker missing — ${avail.hint}`;

const LABEL = 'qnb.neo4j=true';

/** A 6-field cron expression (UTC) that fires once, `secondsAhead` from now. */
function cronOnceIn(secondsAhead: number): string {
  const t = new Date(Date.now() + secondsAhead * 1000);
  return `${t.getUTCSeconds()} ${t.getUTCMinutes()} ${t.getUTCHours()} ${t.getUTCDate()} ${t.getUTCMonth() + 1} *`;
}

async function dockerOut(args: string[]): Promise<string> {
  const r = await docker(args);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

describe('qnb as a sidecar container', { skip, timeout: 15 * 60_000 }, () => {
  const suffix = randomBytes(3).toString('hex');
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const sidecar = `qnb-e2e-sidecar-${suffix}`;
  const volume = `qnb-e2e-sidecar-backups-${suffix}`;
  const servers = new ValidatedServers();
  let image: string;
  let neo4j: Neo4jContainer;
  let qdrant: QdrantTestServer;
  let secrets: string;
  let socketGid: number;
  let original: string;

  /** `docker run` flags of a qnb container beside these stores (`extra` first: may replace some). */
  const qnbFlags = (opts: { socket?: boolean; group?: boolean; env?: Record<string, string> } = {}) => {
    const env: Record<string, string> = {
      QDRANT_URL: qdrant.url,
      NEO4J_URI: neo4j.boltUrl,
      NEO4J_PASSWORD_FILE: '/run/secrets/neo4j_password',
      NEO4J_CONTAINER: `label:${LABEL}`,
      QNB_TZ: 'UTC',
      ...opts.env,
    };
    return [
      '--network',
      'host',
      ...(opts.socket === false ? [] : ['-v', `${DOCKER_SOCKET}:/var/run/docker.sock`]),
      ...(opts.group === false ? [] : ['--group-add', String(socketGid)]),
      '-v',
      `${volume}:/backups`,
      '-v',
      `${join(secrets, 'neo4j_password')}:/run/secrets/neo4j_password:ro`,
      ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ];
  };
  const qnbOnce = (args: string[], opts: Parameters<typeof qnbFlags>[0] = {}) =>
    docker(['run', '--rm', ...qnbFlags(opts), image, ...args], { timeoutMs: 10 * 60_000 });

  before(async () => {
    await ensureDocker();
    socketGid = statSync(DOCKER_SOCKET).gid;
    // a container labelled by an earlier, killed run of this file would make the label ambiguous
    const stale = await docker([
      'ps',
      '-aq',
      '--filter',
      `label=${LABEL}`,
      '--filter',
      'name=qnb-e2e-sidecar-',
    ]);
    for (const id of stale.stdout.split('\n').filter(Boolean)) await docker(['rm', '-f', '-v', id]);
    const built = await run(join(DOCKER_SCRIPTS, 'build-qnb-image.sh'), [], {
      env: { ...process.env, DOCKER: DOCKER_CLI, QNB_SKIP_NPM_BUILD: '1' },
      timeoutMs: 20 * 60_000,
    });
    assert.equal(built.code, 0, `build-qnb-image.sh: ${built.stderr.split('\n').slice(-15).join('\n')}`);
    image = built.stdout.trim().split('\n').pop()!;
    neo4j = await startNeo4jContainer({
      name: `qnb-e2e-sidecar-neo4j-${suffix}`,
      volume: `qnb-e2e-sidecar-neo4j-data-${suffix}`,
      password,
      labels: [LABEL],
    });
    await seedTypedGraph(neo4j.boltUrl, password);
    original = (await graphHash(neo4j.boltUrl, password)).hash;
    qdrant = await servers.start();
    await seedCollections(clientFor(qdrant.url), { papers: 30, chunks: 60 });
    secrets = await mkdtemp(join(tmpdir(), 'qnb-sidecar-secrets-'));
    await chmod(secrets, 0o755);
    // a secrets file as compose writes it: the value and a trailing newline, readable by qnb
    await writeFile(join(secrets, 'neo4j_password'), `${password}\n`, { mode: 0o644 });
    await dockerOut(['volume', 'create', volume]);
  });

  after(async () => {
    await docker(['rm', '-f', sidecar]);
    await neo4j?.remove({ volume: true });
    await docker(['volume', 'rm', '-f', volume]);
    await servers.stopAll();
    if (secrets) await rm(secrets, { recursive: true, force: true });
  });

  test('doctor in a container names what is missing: socket, its permission, the container', async () => {
    const noSocket = await qnbOnce(['doctor'], { socket: false });
    assert.notEqual(noSocket.code, 0);
    assert.match(
      noSocket.stdout,
      /no Docker socket at \/var\/run\/docker\.sock — fix: mount the engine's socket: -v \/var\/run\/docker\.sock:\/var\/run\/docker\.sock/,
    );
    const noGroup = await qnbOnce(['doctor'], { group: false });
    assert.notEqual(noGroup.code, 0);
    assert.match(
      noGroup.stdout,
      new RegExp(
        `permission denied on the Docker socket /var/run/docker\\.sock — fix: give qnb the socket's group: docker run --group-add ${socketGid}`,
      ),
    );
    const noContainer = await qnbOnce(['doctor'], {
      env: { NEO4J_CONTAINER: `label:qnb.neo4j=missing-${suffix}` },
    });
    assert.notEqual(noContainer.code, 0);
    assert.match(noContainer.stdout, /Container not found: no container has the label qnb\.neo4j=missing-/);
    for (const r of [noSocket, noGroup, noContainer]) assert.ok(!(r.stdout + r.stderr).includes(password));
  });

  test('schedule fires a backup set: Neo4j stopped and started again, the healthcheck turns healthy', async () => {
    const startedBefore = await dockerOut(['inspect', '-f', '{{.State.StartedAt}}', neo4j.name]);
    await dockerOut([
      'run',
      '-d',
      '--name',
      sidecar,
      '--health-interval',
      '3s',
      '--health-retries',
      '1',
      '--health-start-period',
      '1s',
      ...qnbFlags({ env: { QNB_CRON: cronOnceIn(25) } }),
      image,
    ]);
    const seen: string[] = [];
    const deadline = Date.now() + 4 * 60_000;
    let logs = '';
    while (Date.now() < deadline) {
      const health = await dockerOut(['inspect', '-f', '{{.State.Health.Status}}', sidecar]);
      if (seen.at(-1) !== health) seen.push(health);
      const l = await docker(['logs', sidecar]);
      logs = l.stdout + l.stderr;
      if (health === 'healthy' && /run 1: /.test(logs)) break;
      await sleep(1000);
    }
    assert.match(logs, /qnb schedule: "\d+ \d+ \d+ \d+ \d+ \*" \(UTC\), backup-all; next run/);
    assert.match(logs, /run 1: backup-all started/);
    assert.match(logs, /✅ Neo4j \(neo4j\)/, logs);
    assert.match(logs, /✅ Qdrant \(papers\)/);
    assert.match(logs, /stopping Neo4j \(Docker container qnb-e2e-sidecar-neo4j-/);
    assert.ok(!logs.includes(password), 'the password never reaches the logs');
    assert.deepEqual(seen.slice(-2), ['unhealthy', 'healthy'], `health went ${seen.join(' → ')}`);
    const startedAfter = await dockerOut(['inspect', '-f', '{{.State.StartedAt}}', neo4j.name]);
    assert.notEqual(startedAfter, startedBefore, 'the sidecar stopped and started the Neo4j container');
    assert.ok(await neo4j.isRunning());
    assert.equal((await graphHash(neo4j.boltUrl, password)).hash, original);
    const health = JSON.parse(await dockerOut(['inspect', '-f', '{{json .State.Health}}', sidecar])) as {
      Log: { ExitCode: number; Output: string }[];
    };
    assert.match(health.Log.at(-1)!.Output, /^healthy: 3 target\(s\) backed up within 26h/);
  });

  test('restore --latest --yes through docker run --rm brings a wrecked graph back', async () => {
    await wreckGraph(neo4j.boltUrl, password);
    assert.notEqual((await graphHash(neo4j.boltUrl, password)).hash, original);
    const r = await qnbOnce(['restore', '--latest', '--yes']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(await neo4j.isRunning());
    assert.equal((await graphHash(neo4j.boltUrl, password)).hash, original);
    assert.ok(!(r.stdout + r.stderr).includes(password));
  });

  test('killed while Neo4j is stopped: the restarted sidecar starts Neo4j again at once', async () => {
    // a backup in the sidecar (same container, same PID namespace as schedule), SIGKILLed with
    // Neo4j stopped: its guardian dies with the container; the restarted container recovers
    await dockerOut(['exec', '-d', sidecar, 'qnb', 'backup-neo4j']);
    const marker = ['exec', sidecar, 'test', '-e', '/backups/.qnb-neo4j-stopped.json'];
    const deadline = Date.now() + 120_000;
    while (!((await docker(marker)).code === 0 && !(await neo4j.isRunning())) && Date.now() < deadline)
      await sleep(200);
    assert.equal(await neo4j.isRunning(), false, 'Neo4j was stopped by the backup');
    await dockerOut(['kill', sidecar]);
    await dockerOut(['start', sidecar]);
    // the warning comes once Neo4j answers over Bolt again
    const recovered = /was left stopped by an interrupted qnb run \(PID \d+\); starting it again/;
    const back = Date.now() + 180_000;
    let logs = '';
    while (!recovered.test(logs) && Date.now() < back) {
      await sleep(1000);
      logs = (await docker(['logs', sidecar])).stderr;
    }
    assert.match(logs, recovered);
    assert.match(logs, /backup set \S+ was interrupted; marked as such/);
    assert.ok(await neo4j.isRunning(), 'the restarted sidecar started Neo4j again');
    assert.equal((await graphHash(neo4j.boltUrl, password)).hash, original);
  });

  test('docker stop (SIGTERM) ends the sidecar cleanly: exit 0, no lock left', async () => {
    await dockerOut(['stop', '-t', '60', sidecar]);
    assert.equal(await dockerOut(['inspect', '-f', '{{.State.ExitCode}}', sidecar]), '0');
    const l = await docker(['logs', sidecar]);
    assert.match(l.stdout, /stopping: no backup running\n.*stopped after 0 run\(s\)\s*$/);
    const left = await docker([
      'run',
      '--rm',
      '-v',
      `${volume}:/backups`,
      '--entrypoint',
      'ls',
      image,
      '-A',
      '/backups',
    ]);
    assert.equal(left.code, 0, left.stderr);
    assert.ok(!left.stdout.includes('.qnb.lock'), left.stdout);
    assert.ok(!left.stdout.includes('.qnb-neo4j-stopped'), left.stdout);
    assert.deepEqual(servers.violations, []);
  });
});
