/**
 * The Target conformance suite on the Neo4j target, against one real Neo4j 5.26 Community local
 * install shared by the file: in dump mode (neo4j-admin; Neo4j stopped and started again around
 * each dump and load) and in export mode (online over Bolt).
 */
import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import neo4j from 'neo4j-driver';
import type { Neo4jConfig } from '../../src/config/schema.js';
import { createNeo4jTarget } from '../../src/targets/neo4j/neo4j-target.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import {
  countGraph,
  createNeo4jHome,
  freePort,
  type Neo4jHome,
  neo4jAvailable,
} from '../servers/neo4j/harness.js';
import { targetSuite } from '../suites/target-suite.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;
const only = process.env.QNB_TEST_TARGETS?.split(',').map((s) => s.trim());
const needed = !skip && (!only?.length || only.includes('neo4j'));

const password = `pw-${randomBytes(6).toString('hex')}`;
let n: Neo4jHome;
let downUri = '';
before(async () => {
  if (!needed) return;
  n = await createNeo4jHome({ password });
  await n.start();
  downUri = `bolt://127.0.0.1:${await freePort()}`;
});
after(() => n?.remove());

const config = (mode: Neo4jConfig['mode'], uri: string): Neo4jConfig => ({
  uri,
  user: 'neo4j',
  password,
  database: 'neo4j',
  mode,
  container: undefined,
  home: n.home,
  env: { ...process.env, ...n.env },
});

async function clear(): Promise<void> {
  const d = neo4j.driver(n.boltUrl, neo4j.auth.basic('neo4j', password));
  try {
    await d.executeQuery('MATCH (x) DETACH DELETE x');
  } finally {
    await d.close();
  }
}

for (const mode of ['dump', 'export'] as const) {
  targetSuite(
    `neo4j ${mode} (local install)`,
    {
      kind: 'neo4j',
      open: (repository) =>
        createNeo4jTarget({ config: config(mode, n.boltUrl), backupDir: repository.root, repository }),
      openDown: (repository) =>
        createNeo4jTarget({ config: config(mode, downUri), backupDir: repository.root, repository }),
      async seed() {
        // a test cut short while Neo4j was stopped for a dump must not fail the ones after it
        if (!n.isRunning()) await n.start();
        await clear();
        await seedTypedGraph(n.boltUrl, password);
      },
      fingerprint: () => graphHash(n.boltUrl, password),
      wreck: () => wreckGraph(n.boltUrl, password),
      serving: async () => (await countGraph(n.boltUrl, 'neo4j', password)).nodes > 0,
    },
    { skip },
  );
}
