/** The Target conformance suite on the Qdrant target, against the project's Qdrant test server over HTTP. */
import { after, before } from 'node:test';
import { defaultConfig } from '../../src/config/schema.js';
import { createQdrantTarget } from '../../src/targets/qdrant/qdrant-target.js';
import { aliasList, clientFor, dumpCollection, seedCollections } from '../helpers/qdrant-data.js';
import { freePort } from '../servers/neo4j/harness.js';
import { startQdrantTestServer } from '../servers/qdrant/index.js';
import { targetSuite } from '../suites/target-suite.js';

let server: Awaited<ReturnType<typeof startQdrantTestServer>>;
let downUrl = '';
before(async () => {
  server = await startQdrantTestServer();
  downUrl = `http://127.0.0.1:${await freePort()}`;
});
after(() => server?.stop());

const client = () => clientFor(server.url);
const config = (url: string) => ({ ...defaultConfig().qdrant, url });

targetSuite('qdrant (test server)', {
  kind: 'qdrant',
  open: (repository) => createQdrantTarget({ config: config(server.url), repository }),
  openDown: (repository) => createQdrantTarget({ config: config(downUrl), repository }),
  async seed() {
    const c = client();
    for (const { name } of (await c.getCollections()).collections) await c.deleteCollection(name);
    await seedCollections(c);
  },
  async fingerprint() {
    const c = client();
    const dump = async (name: string) =>
      (await c.collectionExists(name)).exists ? dumpCollection(c, name) : null;
    return { papers: await dump('papers'), chunks: await dump('chunks'), aliases: await aliasList(c) };
  },
  async wreck() {
    const c = client();
    await c.deleteCollection('papers');
    await c.upsert('chunks', {
      wait: true,
      points: [{ id: 1000, vector: Array(8).fill(0.5), payload: { junk: true } }],
    });
  },
  // it answers a read (a refused or reset connection throws)
  serving: async () => Array.isArray((await client().getCollections()).collections),
});
