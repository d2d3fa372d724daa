/**
 * A Neo4j dump of a graph that is written to all the time (an AI agent's memory), on a real
 * Neo4j 5.26 Community local install through the real qnb binary. The dump's counts, sample and
 * probes are read over Bolt before Neo4j is stopped; writes committed before the stop are in the
 * dump. qnb counts again after the restart and records ranges, so the backup restores, passes
 * `verify --deep` and stays valid.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import neo4j from 'neo4j-driver';
import { qnbEnv, runQnb, startQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { seedTypedGraph } from '../helpers/neo4j-data.js';
import { countGraph, createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

describe('Neo4j dump while the graph is written to', { skip, timeout: 20 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 600_000 });

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    await seedTypedGraph(n.boltUrl, password);
    cwd = await mkdtemp(join(tmpdir(), 'qnb-neo4j-writes-'));
    env = qnbEnv({
      NEO4J_HOME: n.home,
      NEO4J_URI: n.boltUrl,
      NEO4J_PASSWORD: password,
      JAVA_HOME: process.env.JAVA_HOME,
    });
  });
  after(async () => {
    await n?.remove();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('writes during backup-neo4j: the dump restores, passes verify --deep and stays valid', async () => {
    const driver = neo4j.driver(n.boltUrl, neo4j.auth.basic('neo4j', password), {
      logging: { level: 'error', logger: () => {} },
      connectionTimeout: 2_000,
      connectionAcquisitionTimeout: 2_000,
    });
    const proc = startQnb(['backup-neo4j'], { cwd, env });
    let exited = false;
    const done = proc.done.then((r) => {
      exited = true;
      return r;
    });
    const stderr = () => proc.output().stderr;
    // one node and one relationship every ~10 ms, until qnb says it stops Neo4j (so writes land
    // between its description and the stop), and again once Neo4j is back, until qnb ends
    let i = 0;
    let beforeStop = 0;
    let afterStart = 0;
    try {
      while (!exited) {
        const down = /• stopping Neo4j/.test(stderr()) && !/Neo4j is back/.test(stderr());
        if (down) {
          await sleep(20);
          continue;
        }
        const session = driver.session();
        try {
          await session.run("MATCH (c:Concept {uid: 'c1'}) CREATE (:Note {i: $i})-[:ABOUT]->(c)", {
            i: neo4j.int(i++),
          });
          if (/• stopping Neo4j/.test(stderr())) afterStart++;
          else beforeStop++;
        } catch {
          await sleep(20); // Neo4j is stopping or starting
        } finally {
          await session.close();
        }
        await sleep(10);
      }
    } finally {
      await driver.close();
    }
    const run = await done;
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.ok(beforeStop > 0, `writes were committed while qnb described the graph (${afterStart} after)`);

    // the manifest records ranges, and qnb says the graph changed around the dump
    const dump = await backupDump();
    assert.equal(dump.details.changedDuringDump, true, JSON.stringify(dump));
    assert.equal(dump.counts.nodes, undefined);
    assert.ok(dump.counts.nodesMin! < dump.counts.nodesMax!, JSON.stringify(dump.counts));
    assert.ok(dump.counts.relationshipsMin! < dump.counts.relationshipsMax!, JSON.stringify(dump.counts));
    assert.match(
      run.stderr,
      /⚠ neo4j \(neo4j\): the graph changed around the dump \(nodes \d+ → \d+, relationships \d+ → \d+\)/,
    );
    assert.match(run.stdout, /Nodes: [\d,]+–[\d,]+ \(changed around the dump\)/);

    // the restore loads it (a safety dump first: the graph holds data), the counts in the range
    const restored = await qnb(['restore-neo4j', '--latest', '--yes']);
    assert.equal(restored.code, 0, restored.stderr + restored.stdout);
    assert.match(restored.stdout, /sample and probes not compared: the graph changed around the dump/);
    const live = await countGraph(n.boltUrl, 'neo4j', password);
    assert.ok(
      live.nodes >= dump.counts.nodesMin! && live.nodes <= dump.counts.nodesMax!,
      JSON.stringify(live),
    );
    assert.ok(
      live.relationships >= dump.counts.relationshipsMin! &&
        live.relationships <= dump.counts.relationshipsMax!,
      JSON.stringify(live),
    );

    // the drill accepts it, and it stays valid (restore --latest would pick it)
    const verified = await qnb(['verify', '--deep', dump.setId]);
    assert.equal(verified.code, 0, verified.stderr + verified.stdout);
    const list = JSON.parse((await qnb(['list', '--json'])).stdout) as {
      backups: { file: string; valid: boolean }[];
    };
    assert.equal(list.backups.find((b) => b.file.endsWith(dump.file.split('/').pop()!))?.valid, true);
  });

  /** The dump artifact of the one `backup` set, with its set id. */
  async function backupDump() {
    type Dump = {
      file: string;
      kind: string;
      counts: Record<string, number | undefined>;
      details: Record<string, unknown>;
    };
    const setsDir = join(cwd, 'backups', 'sets');
    for (const f of await readdir(setsDir)) {
      const set = JSON.parse(await readFile(join(setsDir, f), 'utf8'));
      if (set.reason !== 'backup') continue;
      const dump = set.artifacts.find((a: Dump) => a.kind === 'neo4j-dump') as Dump | undefined;
      if (dump) return { ...dump, setId: set.id as string };
    }
    throw new Error('no backup set with a dump');
  }
});
