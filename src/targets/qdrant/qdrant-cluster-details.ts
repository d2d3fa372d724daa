/**
 * What the manifest records about a cluster backup (`details.cluster`, docs/manifest.md): the
 * topology and one entry per shard file inside the `.shards.tar` artifact.
 */
import type { ArtifactRecord } from '../../core/manifest.js';

/** Name of the topology member of a cluster backup file. */
export const TOPOLOGY_MEMBER = 'qnb-cluster.json';
/** Marker of `details.cluster` and the topology member. */
export const CLUSTER_FORMAT = 'qnb-qdrant-cluster/1';

/** One shard file of a cluster backup, as the manifest records it. */
export interface ShardFileRecord {
  shardId: number;
  shardKey?: string | number;
  peerId: number;
  /** Member name inside the backup file. */
  member: string;
  bytes: number;
  sha256: string;
  serverChecksum: string | null;
  /** points_count the node reported for this shard. */
  points: number;
  snapshotName: string;
}

/** `details.cluster` of a cluster backup. */
export interface ClusterBackupDetails {
  format: typeof CLUSTER_FORMAT;
  peers: { peerId: number; uri: string; url?: string }[];
  shardNumber: number;
  replicationFactor: number;
  shardingMethod: 'auto' | 'custom';
  shardKeys: (string | number)[];
  shards: ShardFileRecord[];
}

/** The cluster details of an artifact, when it is a cluster backup. */
export function clusterDetails(a: ArtifactRecord): ClusterBackupDetails | undefined {
  const c = a.details?.cluster as ClusterBackupDetails | undefined;
  return c && c.format === CLUSTER_FORMAT ? c : undefined;
}
