/**
 * What `doctor` says about a live Neo4j that qnb reads: a database that is empty while its
 * newest valid backup is not usually means it was wiped (e.g. a failed load), and starting it
 * must not read as "everything is in place".
 */
import type { RepoArtifact } from '../../core/repository.js';
import type { GraphCounts } from './neo4j-bolt.js';

/**
 * A warning when `live` is empty but the newest valid backup of `database` holds nodes or
 * relationships; undefined otherwise. `artifacts` are newest first (Repository.scan()).
 */
export function emptyDatabaseWarning(
  database: string,
  live: GraphCounts,
  artifacts: readonly RepoArtifact[],
): string | undefined {
  if (live.nodes > 0 || live.relationships > 0) return undefined;
  const newest = artifacts.find(
    (a) => a.valid && a.artifact.target === 'neo4j' && a.artifact.name === database,
  )?.artifact;
  const nodes = newest?.counts.nodes ?? 0;
  const rels = newest?.counts.relationships ?? 0;
  if (!newest || (nodes === 0 && rels === 0)) return undefined;
  return `database "${database}" is empty, but its newest backup ${newest.file} holds ${nodes} nodes and ${rels} relationships`;
}
