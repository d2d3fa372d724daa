/**
 * `qnb backup-all` then `qnb restore SET`: Qdrant (test server) and a real Neo4j return to the
 * same point; a failing step says which state each store is in and how to get back.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { clientFor, dumpCollection, seedCollections } from '../helpers/qdrant-data.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';
import { type QdrantTestServer, startQdrantTestServer } from '../servers/qdrant/index.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

describe('restore a whole backup set', { skip, timeout: 30 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let q: QdrantTestServer;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 600_000 });

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    await seedTypedGraph(n.boltUrl, password, 20);
    q = await startQdrantTestServer();
    await seedCollections(clientFor(q.url), { papers: 12, chunks: 30 });
    cwd = await mkdtemp(join(tmpdir(), 'qnb-restore-set-'));
    env = qnbEnv({ QDRANT_URL: q.url, NEO4J_HOME: n.home, NEO4J_URI: n.boltUrl, NEO4J_PASSWORD: password });
  });
  after(async () => {
    await n?.remove();
    await q?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('backup-all → wreck both → restore --latest --yes → both at the backup point', async () => {
    const client = clientFor(q.url);
    const backup = await qnb(['backup-all', '--json']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const set = JSON.parse(backup.stdout) as { setId: string; artifacts: { target: string }[] };
    assert.deepEqual(set.artifacts.map((a) => a.target).sort(), ['neo4j', 'qdrant', 'qdrant']);
    const before = {
      papers: await dumpCollection(client, 'papers'),
      graph: (await graphHash(n.boltUrl, password)).hash,
    };

    await client.upsert('papers', {
      wait: true,
      points: [{ id: 777777, vector: { dense: [1, 0, 0, 0] }, payload: { late: 1 } }],
    });
    await wreckGraph(n.boltUrl, password);

    const refused = await qnb(['restore', set.setId]);
    assert.equal(refused.code, 2);
    assert.match(
      refused.stderr,
      /would overwrite: Qdrant collection "chunks".*Qdrant collection "papers".*Neo4j database "neo4j"/,
    );

    const run = await qnb(['restore', '--latest', '--yes']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /✅ Qdrant \(papers\): restored and verified/);
    assert.match(run.stdout, /✅ Neo4j \(neo4j\): restored and verified/);
    const safetyId = /Safety backup of the previous state: set (\S+)/.exec(run.stdout)?.[1];
    // Neo4j stopped once: its safety dump and the load share the stop
    assert.equal(run.stderr.match(/stopping Neo4j/g)?.length, 1, run.stderr);
    const listed = await qnb(['list', '--json']);
    const safety = (
      JSON.parse(listed.stdout) as { backups: { setId: string; target: string; valid: boolean }[] }
    ).backups.filter((b) => b.setId === safetyId);
    assert.deepEqual(safety.map((b) => `${b.target} ${b.valid}`).sort(), [
      'neo4j true',
      'qdrant true',
      'qdrant true',
    ]);
    assert.deepEqual(await dumpCollection(client, 'papers'), before.papers);
    assert.equal((await graphHash(n.boltUrl, password)).hash, before.graph);
  });

  test('a failing step reports each store’s state and the way back', async () => {
    const client = clientFor(q.url);
    const graphBefore = (await graphHash(n.boltUrl, password)).hash;
    await client.upsert('chunks', {
      wait: true,
      points: [{ id: 5, vector: Array(8).fill(0.1), payload: { changed: true } }],
    });
    q.inject({
      op: 'upload-snapshot',
      collection: 'papers',
      fault: { kind: 'status', status: 500, message: 'recovery exploded' },
      times: 1,
    });
    const run = await qnb(['restore', '--latest', '--yes']);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.match(run.stdout, /✅ Qdrant \(chunks\): restored and verified/);
    assert.match(run.stdout, /❌ Qdrant \(papers\): FAILED: .*recovery exploded/);
    // Neo4j goes first (its safety dump is taken in the load's stop): restored before Qdrant failed
    assert.match(run.stdout, /✅ Neo4j \(neo4j\): restored and verified/);
    assert.ok(
      run.stdout.indexOf('Neo4j (neo4j)') < run.stdout.indexOf('Qdrant (chunks)'),
      'Neo4j is restored first',
    );
    assert.match(run.stdout, /To go back to where you were: qnb restore \S+ --yes/);
    assert.equal((await graphHash(n.boltUrl, password)).hash, graphBefore, 'Neo4j holds the backup’s graph');
  });
});
