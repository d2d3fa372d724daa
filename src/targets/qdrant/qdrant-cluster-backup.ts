/**
 * Backup of collections of a distributed Qdrant: preflight (cluster detection and one plan per
 * collection, before anything is written), then one shard snapshot per shard.
 */
import type { ArtifactRecord } from '../../core/manifest.js';
import type { ArtifactSink, TargetContext } from '../target.js';
import { createQdrantApi, type QdrantApi } from './qdrant-api.js';
import {
  type ClusterCollectionPlan,
  closeCluster,
  discoverCluster,
  fullOnClusterError,
  planClusterCollection,
  type QdrantCluster,
} from './qdrant-cluster.js';

/** What the manager needs to back up a cluster's collections. */
export interface PreparedClusterBackup {
  cluster: QdrantCluster;
  plans: Map<string, ClusterCollectionPlan>;
  backup(collection: string, sink: ArtifactSink): Promise<ArtifactRecord>;
  close(): Promise<void>;
}

/** Options of prepareClusterBackup. */
export interface ClusterBackupOptions {
  nodeUrls: readonly string[];
  apiKey: string | undefined;
  full: boolean;
  scopes: (string | null)[];
  serverVersion: string;
  keepServerSnapshot: boolean;
  /** Shard downloads at once (different nodes first). @default 2 */
  parallel?: number;
  ctx: TargetContext;
}

/**
 * `undefined` on a single node (nothing changes). On a cluster: refuses `--full`, plans every
 * collection (throwing the one-line ConfigError when a shard cannot be read), and returns the
 * per-collection backup.
 */
export async function prepareClusterBackup(
  entry: QdrantApi,
  opts: ClusterBackupOptions,
): Promise<PreparedClusterBackup | undefined> {
  const makeApi = (url: string) => createQdrantApi({ url, apiKey: opts.apiKey });
  const cluster = await discoverCluster(entry, opts.nodeUrls, makeApi);
  if (!cluster) return undefined;
  const close = () => closeCluster(cluster, entry);
  try {
    if (opts.full) throw fullOnClusterError(cluster, entry);
    const plans = new Map<string, ClusterCollectionPlan>();
    for (const scope of opts.scopes)
      if (scope !== null) plans.set(scope, await planClusterCollection(cluster, scope));
    return {
      cluster,
      plans,
      close,
      backup: async () => {
        throw new Error('cluster backup is not implemented yet');
      },
    };
  } catch (err) {
    await close();
    throw err;
  }
}
