/**
 * Done-when of off-site copies: a backup set of the Qdrant test server and a real Neo4j 5.26 is
 * copied to a folder and to a real S3 server, verified; the local backups folder is deleted; both
 * stores are wrecked; `restore-qdrant --from` and `restore-neo4j --from` bring both back from
 * each target, exactly (points and payloads; canonical graph hash), and the restore drill passes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { aliasList, clientFor, dumpCollection, seedCollections } from '../helpers/qdrant-data.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';
import { type QdrantTestServer, startQdrantTestServer } from '../servers/qdrant/index.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';

const neo = await neo4jAvailable();
const s3avail = s3ServerAvailable();
if (IN_CI && !neo.ok) throw new Error(`Neo4j (Java + Maven) is required in CI: ${neo.hint}`);
if (IN_CI && !s3avail.ok) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${s3avail.hint}`);
const skip = !neo.ok
  ? `Neo4j missing — ${neo.hint}`
  : !s3avail.ok
    ? `S3 server missing — ${s3avail.hint}`
    : false;

describe('off-site copies bring both stores back', { skip, timeout: 30 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let q: QdrantTestServer;
  let s3: S3TestServer;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  const bucket = `qnb-both-${process.pid}`;
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 600_000 });

  before(async () => {
    [n, q, s3] = await Promise.all([
      createNeo4jHome({ password }),
      startQdrantTestServer(),
      startS3TestServer(),
    ]);
    await n.start();
    await seedTypedGraph(n.boltUrl, password, 20);
    await seedCollections(clientFor(q.url), { papers: 12, chunks: 30 });
    await s3.createBucket(bucket);
    cwd = await mkdtemp(join(tmpdir(), 'qnb-offsite-'));
    await mkdir(join(cwd, 'usb-drive'));
    env = qnbEnv({
      QDRANT_URL: q.url,
      NEO4J_HOME: n.home,
      NEO4J_URI: n.boltUrl,
      NEO4J_PASSWORD: password,
      JAVA_HOME: process.env.JAVA_HOME,
      ...s3.env(),
    });
  });
  after(async () => {
    await n?.remove();
    await q?.stop();
    await s3?.stop();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('backup-all → copy to a folder and S3 → local copy deleted → restore --from each → same data', async () => {
    const client = clientFor(q.url);
    const backup = await qnb(['backup-all', '--json']);
    assert.equal(backup.code, 0, backup.stdout + backup.stderr);
    const original = {
      papers: await dumpCollection(client, 'papers'),
      chunks: await dumpCollection(client, 'chunks'),
      aliases: await aliasList(client),
      graph: (await graphHash(n.boltUrl, password)).hash,
    };
    const targets = ['usb-drive', `s3://${bucket}/lab`];
    for (const to of targets) {
      const copy = await qnb(['copy', '--to', to]);
      assert.equal(copy.code, 0, copy.stdout + copy.stderr);
      assert.match(copy.stdout, /copied 3 file\(s\)/);
      const listed = JSON.parse((await qnb(['list', '--remote', to, '--json'])).stdout) as {
        backups: { valid: boolean; target: string }[];
      };
      assert.deepEqual(listed.backups.map((b) => `${b.target}:${b.valid}`).sort(), [
        'neo4j:true',
        'qdrant:true',
        'qdrant:true',
      ]);
    }
    const wreck = async () => {
      await rm(join(cwd, 'backups'), { recursive: true, force: true });
      await client.deleteCollection('papers');
      await client.upsert('chunks', {
        wait: true,
        points: [{ id: 999_999, vector: [1, 0, 0, 0, 0, 0, 0, 0], payload: { late: true } }],
      });
      await wreckGraph(n.boltUrl, password);
    };
    const same = async (from: string) => {
      assert.deepEqual(await dumpCollection(client, 'papers'), original.papers, `papers from ${from}`);
      assert.deepEqual(await dumpCollection(client, 'chunks'), original.chunks, `chunks from ${from}`);
      assert.deepEqual(await aliasList(client), original.aliases);
      assert.equal((await graphHash(n.boltUrl, password)).hash, original.graph, `graph from ${from}`);
    };

    // from the folder, one store at a time
    await wreck();
    const papers = await qnb(['restore-qdrant', '--from', 'usb-drive', '--latest', '--collection', 'papers']);
    assert.equal(papers.code, 0, papers.stdout + papers.stderr);
    const chunks = await qnb([
      'restore-qdrant',
      '--from',
      'usb-drive',
      '--latest',
      '--collection',
      'chunks',
      '--yes',
    ]);
    assert.equal(chunks.code, 0, chunks.stdout + chunks.stderr);
    const graph = await qnb(['restore-neo4j', '--from', 'usb-drive', '--latest', '--yes']);
    assert.equal(graph.code, 0, graph.stdout + graph.stderr);
    assert.match(graph.stdout, /Nodes: [\d,]+ \(manifest: [\d,]+\) ✔/);
    assert.match(graph.stdout, /Fetched: neo4j\/.* from .*\(sha256 verified/);
    await same('usb-drive');

    // from S3, the whole set at once
    await wreck();
    const set = await qnb(['restore', '--from', targets[1]!, '--latest', '--yes']);
    assert.equal(set.code, 0, set.stdout + set.stderr);
    assert.equal((set.stdout.match(/Fetched: .* \(sha256 verified/g) ?? []).length, 3, set.stdout);
    await same(targets[1]!);

    const again = await qnb([
      'restore-qdrant',
      '--from',
      targets[1]!,
      '--latest',
      '--collection',
      'papers',
      '--yes',
    ]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      /Fetched: nothing \(qdrant\/papers-backup-.* was already in the backups folder/,
    );

    // the fetched files are valid local backups again, and the restore drill passes on them
    const drill = await qnb(['verify', '--deep']);
    assert.equal(drill.code, 0, drill.stdout + drill.stderr);
    assert.doesNotMatch(drill.stdout, /FAILED/);
    assert.ok(!(drill.stdout + drill.stderr).includes(password));
    assert.ok(!(drill.stdout + drill.stderr).includes(s3.secretKey));
  });
});
