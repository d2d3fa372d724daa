/**
 * Pure checks around Neo4j dumps: a file is a dump only when it starts with the Neo4j 5 dump
 * magic (an image entrypoint's warning in front of the bytes is not a dump), and doctor warns
 * when the live database is empty while its newest valid backup is not.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import type { RepoArtifact } from '../../src/core/repository.js';
import { emptyDatabaseWarning } from '../../src/targets/neo4j/neo4j-doctor.js';
import { checkDumpHeader } from '../../src/targets/neo4j/neo4j-dump-file.js';
import { tempDir } from '../helpers/tmp.js';

test('dump header: DZV1 and DGV1 pass; a warning in front of the magic, or nothing, is refused', async (t) => {
  const dir = await tempDir(t);
  const file = (name: string, bytes: Buffer | string) =>
    writeFile(join(dir, name), bytes).then(() => join(dir, name));
  await checkDumpHeader(await file('z.dump', Buffer.from('DZV1\x28\xb5\x2f\xfd')), 'z.dump');
  await checkDumpHeader(await file('g.dump', Buffer.from('DGV1\x1f\x8b')), 'g.dump');
  const warned = await file(
    'w.dump',
    'Warning: Some files inside "/data" are not writable from inside container. Changing folder owner to neo4j.\nDZV1',
  );
  await assert.rejects(checkDumpHeader(warned, 'w.dump'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'E_VERIFY');
    assert.match(
      err.message,
      /^neo4j: w\.dump is not a Neo4j dump: it starts with "Warning: Some files inside/,
    );
    return true;
  });
  await assert.rejects(checkDumpHeader(await file('e.dump', ''), 'e.dump'), /e\.dump is not a Neo4j dump/);
});

test('doctor: empty live database with a non-empty newest backup → warning; otherwise none', () => {
  const art = (name: string, nodes: number, valid = true) =>
    ({
      valid,
      artifact: {
        target: 'neo4j',
        name,
        file: `neo4j/${name}-x.dump`,
        counts: { nodes, relationships: 1 },
      } as ArtifactRecord,
    }) as RepoArtifact;
  const empty = { nodes: 0, relationships: 0 };
  assert.match(
    emptyDatabaseWarning('neo4j', empty, [art('neo4j', 5)]) ?? '',
    /database "neo4j" is empty, but its newest backup neo4j\/neo4j-x\.dump holds 5 nodes and 1 relationships/,
  );
  assert.equal(emptyDatabaseWarning('neo4j', { nodes: 3, relationships: 0 }, [art('neo4j', 5)]), undefined);
  assert.equal(emptyDatabaseWarning('neo4j', empty, [art('other', 5)]), undefined, 'another database');
  assert.equal(emptyDatabaseWarning('neo4j', empty, [art('neo4j', 5, false)]), undefined, 'invalid backup');
  assert.equal(emptyDatabaseWarning('neo4j', empty, []), undefined);
});
