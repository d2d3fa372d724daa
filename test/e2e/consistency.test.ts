/**
 * One consistent Qdrant + Neo4j pair (docs/consistency.md): the agent-zot layout — Zotero item
 * keys in the payloads of `zotero_library_qdrant` and on `:Paper {item_key}` nodes — with an
 * indexer writing during backup-all. Without quiesce hooks the set records the orphans and is
 * `partial` (exit 3); with hooks that pause the indexer, the same run records 0 orphans.
 * One Neo4j (a real one) and one Qdrant test server for the whole file.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import neo4j, { type Driver } from 'neo4j-driver';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { clientFor } from '../helpers/qdrant-data.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';
import { type QdrantTestServer, startQdrantTestServer } from '../servers/qdrant/index.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

const COLLECTION = 'zotero_library_qdrant';
const LINK = {
  qdrant: { collection: COLLECTION, field: 'item_key' },
  neo4j: { label: 'Paper', property: 'item_key' },
};

/** A point per item, then (after `nodeDelayMs`) its `:Paper` node; pauses while `pauseFile` exists. */
function startIndexer(q: QdrantTestServer, driver: Driver, pauseFile: string, nodeDelayMs: number) {
  const client = clientFor(q.url);
  let stopped = false;
  let n = 0;
  const paused = `${pauseFile}.ack`;
  const loop = (async () => {
    while (!stopped) {
      if (existsSync(pauseFile)) {
        await writeFile(paused, '');
        while (existsSync(pauseFile) && !stopped) await sleep(20);
        await rm(paused, { force: true });
        continue;
      }
      const id = 1000 + n++;
      const key = `NEW${id}`;
      await client.upsert(COLLECTION, {
        wait: true,
        points: [{ id, vector: [Math.sin(id), Math.cos(id), 1, id % 7], payload: { item_key: key } }],
      });
      await sleep(nodeDelayMs);
      await driver.executeQuery('CREATE (:Paper {item_key: $key})', { key });
      await sleep(10);
    }
  })();
  return {
    written: () => n,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

describe('links between Qdrant and Neo4j', { skip, timeout: 15 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let q: QdrantTestServer;
  let driver: Driver;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 300_000 });
  const PROBES = { neo4jQueries: [{ name: 'papers', query: 'MATCH (p:Paper) RETURN count(p) AS papers' }] };
  const config = (extra: object = {}) =>
    writeFile(join(cwd, 'qnb.config.json'), JSON.stringify({ links: [LINK], drill: PROBES, ...extra }));
  let quietSet = '';

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    driver = neo4j.driver(n.boltUrl, neo4j.auth.basic('neo4j', password), {
      logging: { level: 'error', logger: () => {} },
    });
    q = await startQdrantTestServer();
    const client = clientFor(q.url);
    await client.createCollection(COLLECTION, { vectors: { size: 4, distance: 'Cosine' } });
    const keys = Array.from({ length: 30 }, (_, i) => `ZK${String(i).padStart(4, '0')}`);
    await client.upsert(COLLECTION, {
      wait: true,
      points: keys.map((key, i) => ({
        id: i + 1,
        vector: [i + 1, 1, (i % 5) + 1, 2],
        payload: { item_key: key },
      })),
    });
    await driver.executeQuery('UNWIND $keys AS k CREATE (:Paper {item_key: k})', { keys });
    await driver.executeQuery(
      "MATCH (a:Paper {item_key: 'ZK0000'}), (b:Paper) WHERE b.item_key STARTS WITH 'ZK000' AND a <> b CREATE (a)-[:CITES]->(b)",
    );
    cwd = await mkdtemp(join(tmpdir(), 'qnb-consistency-'));
    env = qnbEnv({
      QDRANT_URL: q.url,
      NEO4J_HOME: n.home,
      NEO4J_URI: n.boltUrl,
      NEO4J_PASSWORD: password,
      NEO4J_MODE: 'export',
    });
  });
  after(async () => {
    await driver?.close();
    await n?.remove();
    await q?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('a quiet pair: 0 orphans, shown in the report, list and status', async () => {
    await config();
    const run = await qnb(['backup-all', '--no-cleanup']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    quietSet = /Set: (\S+)/.exec(run.stdout)![1]!;
    assert.match(run.stdout, /🔗 Link zotero_library_qdrant\.item_key ↔ :Paper\.item_key: 0 orphans/);
    const list = await qnb(['list']);
    assert.match(list.stdout, /consistency: 0 orphans/);
    const status = await qnb(['status']);
    assert.match(status.stdout, /Consistency: 0 orphans/);
  });

  test('an indexer writing during backup-all: orphans recorded, set partial (exit 3)', async () => {
    await config();
    // the snapshot takes a while (as a big one does): the indexer writes between the two reads
    q.inject({ op: 'create-snapshot', collection: COLLECTION, fault: { kind: 'slow', delayMs: 1500 } });
    const indexer = startIndexer(q, driver, join(cwd, 'pause'), 30);
    await sleep(200);
    const run = await qnb(['backup-all', '--no-cleanup', '--json']);
    await indexer.stop();
    assert.equal(run.code, 3, run.stdout + run.stderr);
    const r = JSON.parse(run.stdout) as {
      status: string;
      links: {
        nodesWithoutPoint: { count: number; examples: string[] };
        pointsWithoutNode: { count: number };
      }[];
      errors: { message: string }[];
    };
    assert.equal(r.status, 'partial');
    const link = r.links[0]!;
    assert.ok(link.nodesWithoutPoint.count > 0, JSON.stringify(link));
    assert.ok(
      link.nodesWithoutPoint.examples.every((k) => k.startsWith('NEW')),
      JSON.stringify(link),
    );
    assert.match(
      r.errors.map((e) => e.message).join('\n'),
      /nodes? without a point .*more than links\[\]\.maxOrphans \(0\)/,
    );
    const list = await qnb(['list']);
    assert.match(list.stdout, /consistency: \d+ nodes? without a point/);
  });

  test('with quiesce hooks pausing the indexer, the same run records 0 orphans', async () => {
    const pause = join(cwd, 'pause');
    await config({
      hooks: {
        // pause, and wait until the indexer has finished its item and acknowledged
        beforeSet: `touch '${pause}' && while [ ! -f '${pause}.ack' ]; do sleep 0.05; done`,
        afterSet: `rm -f '${pause}'`,
        timeout: '1m',
      },
    });
    q.inject({ op: 'create-snapshot', collection: COLLECTION, fault: { kind: 'slow', delayMs: 1500 } });
    const indexer = startIndexer(q, driver, pause, 30);
    await sleep(200);
    const run = await qnb(['backup-all', '--no-cleanup']);
    const before = indexer.written();
    await sleep(300);
    const resumed = indexer.written() > before;
    await indexer.stop();
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /🔗 Link .*: 0 orphans/);
    assert.match(run.stdout, /✅ hooks\.beforeSet/);
    assert.match(run.stdout, /✅ hooks\.afterSet/);
    assert.ok(!existsSync(pause), 'the after hook resumed the indexer');
    assert.ok(resumed, 'the indexer writes again after the set');
  });

  test('the after hook runs when the set fails, and its failure is reported', async () => {
    const ran = join(cwd, 'after-ran');
    await config({ hooks: { afterSet: `touch '${ran}'; echo resume failed >&2; exit 7` } });
    q.inject({
      op: 'create-snapshot',
      collection: COLLECTION,
      fault: { kind: 'status', status: 500, message: 'boom' },
    });
    const run = await qnb(['backup-all', '--no-cleanup']);
    assert.equal(run.code, 3, run.stdout + run.stderr);
    assert.ok(existsSync(ran), 'after hook ran');
    assert.match(run.stdout, /❌ hooks\.afterSet FAILED: exited with status 7: resume failed/);
  });

  test('a bad link in the config: one clear error naming the key', async () => {
    await writeFile(
      join(cwd, 'qnb.config.json'),
      JSON.stringify({ links: [{ qdrant: { collection: COLLECTION }, neo4j: LINK.neo4j }] }),
    );
    const run = await qnb(['backup-all']);
    assert.equal(run.code, 2, run.stdout + run.stderr);
    assert.match(run.stderr, /links\[0\]\.qdrant\.field: must be a non-empty string/);
  });

  test('restore SET reads the pair again: the keys the backup recorded, 0 orphans', async () => {
    await config();
    const run = await qnb(['restore', quietSet, '--yes']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /✅ Link zotero_library_qdrant\.item_key ↔ :Paper\.item_key: 0 orphans, keys as recorded/,
    );
    const { records } = await driver.executeQuery(
      "MATCH (p:Paper) WHERE p.item_key STARTS WITH 'NEW' RETURN count(p) AS c",
    );
    assert.equal(Number(records[0]!.get('c')), 0, 'the indexer’s nodes are gone with the restore');
  });

  test('a Neo4j restore missing a relationship type fails its probe (exit 4)', async () => {
    await config();
    // the backup recorded a relationship type the dump does not hold (same total count)
    const file = join(cwd, 'backups', 'sets', `${quietSet}.json`);
    const set = JSON.parse(await readFile(file, 'utf8')) as {
      artifacts: { target: string; details: { probes: { types: Record<string, number> } } }[];
    };
    const neo = set.artifacts.find((a) => a.target === 'neo4j')!;
    assert.deepEqual(neo.details.probes.types, { CITES: 9 });
    neo.details.probes.types = { CITES: 7, MENTIONS: 2 };
    await writeFile(file, JSON.stringify(set));
    const run = await qnb(['restore', quietSet, '--yes']);
    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /❌ Neo4j \(neo4j\): FAILED: .*probe "relationships per type" differs .*MENTIONS: 2 → none/,
    );
  });

  test('verify --deep: the snapshot must hold the link keys its set recorded', async () => {
    await config();
    const file = join(cwd, 'backups', 'sets', `${quietSet}.json`);
    const set = JSON.parse(await readFile(file, 'utf8')) as {
      artifacts: { target: string; file: string }[];
      links: { qdrant: { digest: string } }[];
    };
    const snapshot = set.artifacts.find((a) => a.target === 'qdrant')!.file;
    const ok = await qnb(['verify', '--deep', snapshot]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    // the set claims other keys than the snapshot holds
    set.links[0]!.qdrant.digest = '0'.repeat(64);
    await writeFile(file, JSON.stringify(set));
    const bad = await qnb(['verify', '--deep', snapshot]);
    assert.equal(bad.code, 4, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /link .*: the snapshot's item_key keys differ from the ones the set recorded/);
  });
});
