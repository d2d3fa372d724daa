/**
 * `qnb doctor` on a distributed Qdrant: the cluster, each node's reachability (REST URL known
 * and answering) and which node each shard of each collection would be read from.
 */
import { QnbError } from '../../core/errors.js';
import type { DoctorCheck } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import { closeCluster, discoverClusterOf, planClusterCollection } from './qdrant-cluster.js';

const fixOf = (err: unknown) => (err instanceof QnbError ? err.hint : undefined);

/** Checks of the cluster behind `api`; none on a single node. */
export async function clusterDoctorChecks(api: QdrantApi, collections: string[]): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  let cluster: Awaited<ReturnType<typeof discoverClusterOf>>;
  try {
    cluster = await discoverClusterOf(api);
  } catch (err) {
    return [{ area: 'qdrant', name: 'cluster', ok: false, detail: (err as Error).message, fix: fixOf(err) }];
  }
  if (!cluster) return out;
  try {
    out.push({
      area: 'qdrant',
      name: 'cluster',
      ok: true,
      detail: `distributed mode, ${cluster.nodes.length} peers (entry peer ${cluster.entryPeerId}); backups take one shard snapshot per shard`,
    });
    for (const n of cluster.nodes) {
      out.push({
        area: 'qdrant',
        name: `node peer ${n.peerId}`,
        ok: Boolean(n.url),
        detail: n.url ? `${n.url} answers (p2p ${n.p2pUri})` : `no reachable REST URL (p2p ${n.p2pUri})`,
        ...(n.url ? {} : { fix: 'add its REST URL to QDRANT_NODE_URLS (or qdrant.nodes / --qdrant-node)' }),
      });
    }
    for (const u of cluster.unreachable) {
      out.push({
        area: 'qdrant',
        name: `node ${u.url}`,
        ok: false,
        detail: u.error,
        fix: 'start the node or fix QDRANT_NODE_URLS',
      });
    }
    for (const c of collections) {
      try {
        const plan = await planClusterCollection(cluster, c);
        out.push({
          area: 'qdrant',
          name: `shards of "${c}"`,
          ok: true,
          detail: plan.shards.map((s) => `${s.shardId}←peer ${s.peerId}`).join(', '),
        });
      } catch (err) {
        out.push({
          area: 'qdrant',
          name: `shards of "${c}"`,
          ok: false,
          detail: (err as Error).message,
          fix: fixOf(err),
        });
      }
    }
  } finally {
    await closeCluster(cluster, api);
  }
  return out;
}
