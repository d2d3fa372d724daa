/**
 * The counts a Neo4j dump promises when the graph changed between the read before the stop and
 * the read after the restart: ranges in the manifest, any count within them passes, a count
 * outside fails naming both; exact counts stay exact. And a check that fails after a load over
 * data names the safety dump and the command that puts it back.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { VerificationError } from '../../src/core/errors.js';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import {
  changedAroundDump,
  countsProblem,
  dumpCounts,
  expectedText,
  skippedNote,
} from '../../src/targets/neo4j/neo4j-count-range.js';
import { namingSafety } from '../../src/targets/neo4j/neo4j-rollback.js';

const dump = (counts: ArtifactRecord['counts'], details: Record<string, unknown> = {}) =>
  ({
    kind: 'neo4j-dump',
    file: 'neo4j/x.dump',
    counts,
    details: { mode: 'dump', ...details },
  }) as unknown as ArtifactRecord;

test('dumpCounts: equal before and after (or not read after) is exact, no warning', () => {
  assert.deepEqual(dumpCounts({ nodes: 10, relationships: 4 }, { nodes: 10, relationships: 4 }), {
    counts: { nodes: 10, relationships: 4 },
  });
  assert.deepEqual(dumpCounts({ nodes: 10, relationships: 4 }), { counts: { nodes: 10, relationships: 4 } });
});

test('dumpCounts: counts that moved become ranges, one warning line says how', () => {
  const grew = dumpCounts({ nodes: 10, relationships: 4 }, { nodes: 13, relationships: 4 });
  assert.deepEqual(grew.counts, { nodesMin: 10, nodesMax: 13, relationships: 4 });
  assert.equal(grew.changed, 'the graph changed around the dump (nodes 10 → 13, relationships 4 → 4)');
  const shrank = dumpCounts({ nodes: 10, relationships: 4 }, { nodes: 8, relationships: 1 });
  assert.deepEqual(shrank.counts, { nodesMin: 8, nodesMax: 10, relationshipsMin: 1, relationshipsMax: 4 });
});

test('countsProblem: a range accepts any count within it, fails outside naming the counts', () => {
  const a = dump({ nodesMin: 10, nodesMax: 13, relationships: 4 }, { changedDuringDump: true });
  for (const nodes of [10, 11, 13]) assert.equal(countsProblem({ nodes, relationships: 4 }, a), undefined);
  assert.equal(
    countsProblem({ nodes: 14, relationships: 4 }, a),
    'restored 14 nodes / 4 relationships, the manifest recorded 10–13 / 4',
  );
  assert.equal(
    countsProblem({ nodes: 9, relationships: 4 }, a),
    'restored 9 nodes / 4 relationships, the manifest recorded 10–13 / 4',
  );
  assert.equal(
    countsProblem({ nodes: 11, relationships: 5 }, a, 'manifest'),
    'restored 11 nodes / 5 relationships, manifest 10–13 / 4',
  );
  assert.equal(expectedText(a, 'nodes'), '10–13');
  assert.ok(changedAroundDump(a));
  assert.match(skippedNote(a) ?? '', /sample and probes not compared: the graph changed around the dump/);
});

test('countsProblem: exact counts stay strict; a record without counts checks nothing', () => {
  const a = dump({ nodes: 10, relationships: 4 });
  assert.equal(countsProblem({ nodes: 10, relationships: 4 }, a), undefined);
  assert.equal(
    countsProblem({ nodes: 11, relationships: 4 }, a),
    'restored 11 nodes / 4 relationships, the manifest recorded 10 / 4',
  );
  assert.equal(skippedNote(a), undefined);
  assert.equal(countsProblem({ nodes: 11, relationships: 4 }, dump({})), undefined);
});

test('namingSafety: a failed check after a load over data names the safety dump and the command', () => {
  const err = new VerificationError('neo4j "neo4j": restored 1 nodes', 'try an older backup');
  const safety = { path: '/b/neo4j/s.dump', file: 'neo4j/s.dump', counts: {}, setId: 'S1' };
  const named = namingSafety(err, safety, 'neo4j') as VerificationError;
  assert.equal(named.code, 'E_VERIFY');
  assert.match(
    named.message,
    /restored 1 nodes; what "neo4j" held before is in the safety dump neo4j\/s\.dump \(set S1\): `qnb restore-neo4j neo4j\/s\.dump --yes` puts it back/,
  );
  assert.equal(named.hint, 'try an older backup');
  assert.equal(namingSafety(err, undefined, 'neo4j'), err);
});
