/**
 * An online export of a graph being written, on a real Neo4j 5.26: Neo4j reads are read-committed,
 * so the relationship scan sees relationships committed after the node scan. A writer commits,
 * exactly between the two scans, relationships to new nodes (and one between old nodes): the file
 * holds no relationship whose end node is missing, the manifest's counts and sample describe the
 * file, and the file restores.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { QnbEvent } from '../../src/core/events.js';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import { backupNeo4jExport } from '../../src/targets/neo4j/neo4j-export.js';
import { readExportLines } from '../../src/targets/neo4j/neo4j-export-format.js';
import { importExport } from '../../src/targets/neo4j/neo4j-import.js';
import type { ArtifactSink, TargetContext } from '../../src/targets/target.js';
import { IN_CI } from '../helpers/components.js';
import { driverFor } from '../helpers/neo4j-data.js';
import { countGraph, createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

describe('Neo4j export of a graph written between the node and the relationship scan', { skip }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let dir: string;
  const bolt = () => ({ uri: n.boltUrl, user: 'neo4j', password, database: 'neo4j' });
  const write = async (query: string) => {
    const d = driverFor(n.boltUrl, password);
    try {
      await d.executeQuery(query);
    } finally {
      await d.close();
    }
  };

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    dir = await mkdtemp(join(tmpdir(), 'qnb-neo4j-export-race-'));
  });
  after(async () => {
    await n?.remove();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('relationships to nodes created after the node scan are left out and counted; the file restores', async () => {
    await write("CREATE (:P {uid: 'p1'})-[:CITES {w: 1}]->(:P {uid: 'p2'})");
    const events: QnbEvent[] = [];
    const ctx: TargetContext = { reporter: { emit: (e) => events.push(e) }, now: () => new Date() };
    let committed: ArtifactRecord | undefined;
    const sink: ArtifactSink = {
      reserve: async (_target, base, ext) => ({
        rel: `${base}${ext}`,
        tempPath: join(dir, `.tmp-${base}${ext}`),
      }),
      commit: async (record, tempPath) => {
        await rename(tempPath, join(dir, record.file));
        committed = record;
      },
      discard: (tempPath) => rm(tempPath, { force: true }),
    };
    let between = 0;
    const record = await backupNeo4jExport(sink, ctx, {
      bolt: bolt(),
      backupDir: dir,
      // committed by another transaction while the export's read transaction is open
      afterNodeScan: async () => {
        between++;
        await write(`MATCH (a:P {uid: 'p1'}), (b:P {uid: 'p2'})
          CREATE (a)-[:LATE]->(:New {uid: 'n1'}), (:New {uid: 'n2'})-[:LATE]->(b), (b)-[:BACK {w: 2}]->(a)`);
      },
    });
    assert.equal(between, 1);
    assert.equal(committed, record);
    const path = join(dir, record.file);
    const ids = new Set<string>();
    const rels: { start: string; end: string; type: string }[] = [];
    for await (const line of readExportLines(path, record.file)) {
      if (line.kind === 'node') ids.add(line.id);
      if (line.kind === 'relationship') rels.push(line);
    }
    assert.deepEqual(
      rels.filter((r) => !ids.has(r.start) || !ids.has(r.end)),
      [],
      'no relationship whose end node is not in the file',
    );
    // the relationship between two nodes of the file is kept, the two to new nodes are not
    assert.deepEqual(rels.map((r) => r.type).sort(), ['BACK', 'CITES']);
    assert.deepEqual(record.counts, { nodes: ids.size, relationships: rels.length });
    assert.deepEqual(record.counts, { nodes: 2, relationships: 2 });
    assert.equal(record.sample?.filter((s) => String(s.id).startsWith('rel:')).length, 2);
    assert.equal(record.details?.changedDuringExport, true);
    const warnings = events.flatMap((e) => (e.type === 'warning' ? [e.message] : []));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(
      warnings[0]!,
      /the file holds 2 \/ 2; 2 relationship\(s\) created after the node scan, to nodes not in the file, were left out/,
    );
    // the import replaces the (now bigger) graph with exactly what the file holds
    const imported = await importExport(bolt(), path, record.file, ctx, { sample: record.sample ?? [] });
    assert.deepEqual(imported.counts, record.counts);
    assert.deepEqual(imported.sampleBad, []);
    assert.deepEqual(await countGraph(n.boltUrl, 'neo4j', password), { nodes: 2, relationships: 2 });
  });
});
