/**
 * The counts a Neo4j dump promises. A dump's counts, sample and probes are read over Bolt before
 * Neo4j is stopped, so a write committed in between is in the dump but not in what was read.
 * The counts are read again once Neo4j answers after its restart: equal, the record is exact;
 * different, it records each count that moved as a range (`nodesMin`/`nodesMax`,
 * `relationshipsMin`/`relationshipsMax`, like Qdrant's `pointsMin`/`pointsMax`) and
 * `details.changedDuringDump`, and the checks after a load accept any count in the range and skip
 * the exact sample and probe comparisons, which cannot hold.
 */
import type { ArtifactCounts, ArtifactRecord } from '../../core/manifest.js';
import type { GraphCounts } from './neo4j-bolt.js';

/** What a dump records of counts read before the stop and (when it restarted Neo4j) after. */
export function dumpCounts(
  before: GraphCounts,
  after?: GraphCounts,
): { counts: ArtifactCounts; changed?: string } {
  if (!after || (after.nodes === before.nodes && after.relationships === before.relationships))
    return { counts: { nodes: before.nodes, relationships: before.relationships } };
  const one = (key: 'nodes' | 'relationships'): ArtifactCounts =>
    before[key] === after[key]
      ? { [key]: before[key] }
      : {
          [`${key}Min`]: Math.min(before[key], after[key]),
          [`${key}Max`]: Math.max(before[key], after[key]),
        };
  return {
    counts: { ...one('nodes'), ...one('relationships') },
    changed: `the graph changed around the dump (nodes ${before.nodes} → ${after.nodes}, relationships ${before.relationships} → ${after.relationships})`,
  };
}

/** One count the manifest promises: [min, max], or undefined when it recorded none. */
function rangeOf(c: ArtifactCounts, key: 'nodes' | 'relationships'): [number, number] | undefined {
  const exact = c[key];
  if (typeof exact === 'number') return [exact, exact];
  const min = c[`${key}Min`];
  const max = c[`${key}Max`];
  return typeof min === 'number' && typeof max === 'number' ? [min, max] : undefined;
}

/** "12" or "10–12", for messages and reports. */
export function expectedText(a: ArtifactRecord, key: 'nodes' | 'relationships'): string | undefined {
  const r = rangeOf(a.counts, key);
  return r && (r[0] === r[1] ? `${r[0]}` : `${r[0]}–${r[1]}`);
}

/** Whether the exact sample and probe checks cannot hold (the graph changed around the dump). */
export const changedAroundDump = (a: ArtifactRecord) => a.details?.changedDuringDump === true;

/** Why the exact sample and probe checks were skipped, when they were. */
export const skippedNote = (a: ArtifactRecord) =>
  changedAroundDump(a)
    ? 'sample and probes not compared: the graph changed around the dump, so they were read from a different graph than the dump holds'
    : undefined;

/**
 * Why `counts` are not what the manifest promises ("restored 9 nodes / 3 relationships, the
 * manifest recorded 10–12 / 3"), or undefined when they are (or it recorded none).
 */
export function countsProblem(
  counts: GraphCounts,
  a: ArtifactRecord,
  recorded = 'the manifest recorded',
): string | undefined {
  const nodes = rangeOf(a.counts, 'nodes');
  const rels = rangeOf(a.counts, 'relationships');
  if (!nodes || !rels) return undefined;
  const within = (n: number, [min, max]: [number, number]) => n >= min && n <= max;
  if (within(counts.nodes, nodes) && within(counts.relationships, rels)) return undefined;
  return `restored ${counts.nodes} nodes / ${counts.relationships} relationships, ${recorded} ${expectedText(a, 'nodes')} / ${expectedText(a, 'relationships')}`;
}
