/**
 * Distributed Qdrant: find out whether the server runs as a cluster, map every configured node
 * URL to its peer id (`GET /cluster` on that node), and plan which node each shard of a
 * collection is read from. In cluster mode a collection snapshot through one node holds only that
 * node's shards, so qnb never takes one: it takes one shard snapshot per shard from a node holding
 * an Active replica, and refuses (before anything is written) when a shard has none it can reach.
 */
import { ConfigError, QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { type CollectionClusterInfo, createQdrantApi, type QdrantApi } from './qdrant-api.js';

/** One peer of the cluster and how qnb reaches it. */
export interface ClusterNode {
  peerId: number;
  /** Peer-to-peer URI from `/cluster` (not the REST URL). */
  p2pUri: string;
  /** REST URL, when one of the configured URLs (or QDRANT_URL) answered with this peer id. */
  url?: string;
  api?: QdrantApi;
}

/** A cluster as qnb sees it. */
export interface QdrantCluster {
  entryPeerId: number;
  nodes: ClusterNode[];
  /** Configured node URLs that did not answer, with why. */
  unreachable: { url: string; error: string }[];
}

/** One replica of a shard. */
export interface ShardReplica {
  peerId: number;
  state: string;
}

/** Where one shard is read from. */
export interface ShardSource {
  shardId: number;
  shardKey?: string | number;
  peerId: number;
  url: string;
  /** points_count reported by the node holding the chosen replica. */
  points: number;
  replicas: ShardReplica[];
  /** Other reachable nodes with an Active replica, tried in order when the first one fails. */
  fallbacks: { peerId: number; url: string }[];
}

/** Which node each shard of a collection is read from. */
export interface ClusterCollectionPlan {
  collection: string;
  shardCount: number;
  shards: ShardSource[];
}

/** The node list (and key) configured for an entry API; attached where the API is created. */
export interface NodeConfig {
  nodeUrls: readonly string[];
  apiKey?: string;
}

const nodeConfigs = new WeakMap<QdrantApi, NodeConfig>();

/** Remembers the configured node URLs for `api` (the manager does this when it creates the API). */
export function attachNodeConfig(api: QdrantApi, config: NodeConfig): QdrantApi {
  nodeConfigs.set(api, config);
  return api;
}

/** Discovers the cluster behind `api` with the node list attached to it (none: only `api`). */
export function discoverClusterOf(api: QdrantApi): Promise<QdrantCluster | undefined> {
  const config = nodeConfigs.get(api) ?? { nodeUrls: [] };
  return discoverCluster(api, config.nodeUrls, (url) => createQdrantApi({ url, apiKey: config.apiKey }));
}

const NODES_FIX =
  'give qnb the REST URL of every node: QDRANT_NODE_URLS=http://node1:6333,http://node2:6333,… (or qdrant.nodes in the config file, or --qdrant-node URL per node)';

/**
 * Reads `/cluster` through the entry node; `undefined` on a single node (cluster disabled).
 * Each configured node URL is asked for its own peer id; a URL of another cluster, or of a single
 * node, is a configuration error. Unreachable URLs are remembered for the error messages.
 */
export async function discoverCluster(
  entry: QdrantApi,
  nodeUrls: readonly string[],
  makeApi: (url: string) => QdrantApi,
): Promise<QdrantCluster | undefined> {
  const status = await entry.clusterStatus();
  if (status.status !== 'enabled' || status.peer_id === undefined) return undefined;
  const nodes: ClusterNode[] = Object.entries(status.peers ?? {}).map(([id, p]) => ({
    peerId: Number(id),
    p2pUri: p.uri,
  }));
  const byPeer = new Map(nodes.map((n) => [n.peerId, n]));
  const entryNode = byPeer.get(status.peer_id);
  if (entryNode) Object.assign(entryNode, { url: entry.baseUrl, api: entry });
  const unreachable: QdrantCluster['unreachable'] = [];
  for (const raw of nodeUrls) {
    const url = raw.replace(/\/+$/, '');
    if (url === entry.baseUrl) continue;
    const api = makeApi(url);
    let peerId: number | undefined;
    try {
      const s = await api.clusterStatus();
      if (s.status !== 'enabled' || s.peer_id === undefined) {
        throw new ConfigError(
          `qdrant node ${url} runs as a single node, not as a peer of the cluster at ${entry.baseUrl}`,
          'list only the REST URLs of the nodes of that cluster in QDRANT_NODE_URLS',
        );
      }
      peerId = s.peer_id;
    } catch (err) {
      await api.close();
      if (err instanceof ConfigError) throw err;
      unreachable.push({ url, error: err instanceof Error ? err.message : String(err) });
      continue;
    }
    const node = byPeer.get(peerId);
    if (!node) {
      await api.close();
      throw new ConfigError(
        `qdrant node ${url} is peer ${peerId}, which is not a peer of the cluster at ${entry.baseUrl} (peers: ${[...byPeer.keys()].join(', ')})`,
        'list only the REST URLs of the nodes of that cluster in QDRANT_NODE_URLS',
      );
    }
    if (node.api) {
      await api.close();
      continue;
    }
    node.url = url;
    node.api = api;
  }
  return { entryPeerId: status.peer_id, nodes, unreachable };
}

/** Closes the node APIs qnb opened (never the entry's). */
export async function closeCluster(cluster: QdrantCluster | undefined, entry: QdrantApi): Promise<void> {
  for (const n of cluster?.nodes ?? []) if (n.api && n.api !== entry) await n.api.close();
}

function peerLabel(cluster: QdrantCluster, peerId: number): string {
  const node = cluster.nodes.find((n) => n.peerId === peerId);
  return `peer ${peerId} (p2p ${node?.p2pUri ?? 'unknown'})`;
}

/**
 * Plans one shard snapshot per shard of `collection`, each from a reachable node holding an
 * Active replica (spreading the shards over the nodes). Throws a ConfigError naming the
 * collection, the shards and the peers that need a REST URL when any shard has none.
 */
export async function planClusterCollection(
  cluster: QdrantCluster,
  collection: string,
): Promise<ClusterCollectionPlan> {
  const infos: CollectionClusterInfo[] = [];
  const failed = new Map<number, string>();
  for (const node of cluster.nodes) {
    if (!node.api) continue;
    try {
      infos.push(await node.api.collectionCluster(collection));
    } catch (err) {
      if (!(err instanceof QnbError) || err.code !== 'E_CONNECT') throw err;
      failed.set(node.peerId, err.message);
    }
  }
  const shardCount = Math.max(0, ...infos.map((i) => i.shard_count));
  const replicas = new Map<number, Map<number, ShardReplica>>();
  const local = new Map<string, { points: number; state: string; key?: string | number }>();
  const keys = new Map<number, string | number>();
  const add = (shardId: number, peerId: number, state: string, key?: string | number | null) => {
    if (!replicas.has(shardId)) replicas.set(shardId, new Map());
    replicas.get(shardId)!.set(peerId, { peerId, state });
    if (key !== undefined && key !== null) keys.set(shardId, key);
  };
  for (const info of infos) {
    for (const r of info.remote_shards) {
      if (!replicas.get(r.shard_id)?.has(r.peer_id)) add(r.shard_id, r.peer_id, r.state, r.shard_key);
    }
  }
  for (const info of infos) {
    for (const s of info.local_shards) {
      add(s.shard_id, info.peer_id, s.state, s.shard_key);
      local.set(`${s.shard_id}:${info.peer_id}`, { points: s.points_count, state: s.state });
    }
  }
  const ids = new Set(replicas.keys());
  const custom = keys.size > 0;
  if (!custom) for (let i = 0; i < shardCount; i++) ids.add(i);
  const load = new Map<number, number>();
  const shards: ShardSource[] = [];
  const missing: { shardId: number; replicas: ShardReplica[] }[] = [];
  for (const shardId of [...ids].sort((a, b) => a - b)) {
    const reps = [...(replicas.get(shardId)?.values() ?? [])];
    const candidates = reps
      .filter((r) => r.state === 'Active' && local.get(`${shardId}:${r.peerId}`)?.state === 'Active')
      .map((r) => cluster.nodes.find((n) => n.peerId === r.peerId)!)
      .filter((n) => n?.url && !failed.has(n.peerId))
      .sort((a, b) => (load.get(a.peerId) ?? 0) - (load.get(b.peerId) ?? 0) || a.peerId - b.peerId);
    const pick = candidates[0];
    if (!pick) {
      missing.push({ shardId, replicas: reps });
      continue;
    }
    load.set(pick.peerId, (load.get(pick.peerId) ?? 0) + 1);
    const key = keys.get(shardId);
    shards.push({
      shardId,
      ...(key === undefined ? {} : { shardKey: key }),
      peerId: pick.peerId,
      url: pick.url!,
      points: local.get(`${shardId}:${pick.peerId}`)!.points,
      replicas: reps,
      fallbacks: candidates.slice(1).map((n) => ({ peerId: n.peerId, url: n.url! })),
    });
  }
  if (missing.length > 0) throw uncovered(cluster, collection, missing, failed);
  return { collection, shardCount: shards.length, shards };
}

function uncovered(
  cluster: QdrantCluster,
  collection: string,
  missing: { shardId: number; replicas: ShardReplica[] }[],
  failed: Map<number, string>,
): ConfigError {
  const needUrl = new Set<number>();
  const notes = new Set<string>();
  for (const m of missing) {
    for (const r of m.replicas) {
      const node = cluster.nodes.find((n) => n.peerId === r.peerId);
      if (!node?.url) needUrl.add(r.peerId);
      else if (failed.has(r.peerId))
        notes.add(`${peerLabel(cluster, r.peerId)} at ${node.url} did not answer`);
      else if (r.state !== 'Active') notes.add(`shard ${m.shardId} on peer ${r.peerId} is ${r.state}`);
    }
  }
  const ids = missing.map((m) => m.shardId).join(', ');
  const parts = [
    `qdrant cluster: collection "${collection}": shard${missing.length > 1 ? 's' : ''} ${ids} ${missing.length > 1 ? 'have' : 'has'} no Active replica on a node qnb can reach`,
  ];
  if (needUrl.size > 0) {
    parts.push(`no REST URL for ${[...needUrl].map((p) => peerLabel(cluster, p)).join(', ')}`);
  }
  parts.push(...notes);
  for (const u of cluster.unreachable) parts.push(`${u.url} did not answer (${u.error})`);
  const hint =
    needUrl.size > 0 || cluster.unreachable.length > 0
      ? `${NODES_FIX}; qnb never backs a cluster up through one node (that snapshot holds only its own shards)`
      : 'wait until the shard transfer or recovery finishes (GET /collections/{c}/cluster), then run the backup again';
  return new ConfigError(`${parts.join('; ')}; nothing was backed up`, hint);
}

/** The refusal of `--full` on a cluster. */
export function fullOnClusterError(cluster: QdrantCluster, entry: QdrantApi): ConfigError {
  return new ConfigError(
    `qdrant ${entry.baseUrl} runs in distributed mode (${cluster.nodes.length} peers): full-storage snapshots are supported on single nodes only`,
    'back up the collections instead (qnb backup-qdrant without --full): qnb then takes one shard snapshot per shard',
  );
}

/**
 * A single-node backup (one collection snapshot) restored into a cluster: Qdrant recovers, on
 * the node the snapshot is uploaded to, only the shards that node holds, so the snapshot goes to
 * every node. Returns the other nodes' APIs (none on a single node); refuses, before anything is
 * uploaded, when a peer has no reachable REST URL.
 */
export async function otherNodesForSnapshot(
  api: QdrantApi,
  artifact: ArtifactRecord,
  target: string,
): Promise<{ apis: QdrantApi[]; close: () => Promise<void> }> {
  const cluster = await discoverClusterOf(api);
  const close = () => closeCluster(cluster, api);
  if (!cluster) return { apis: [], close };
  const missing = cluster.nodes.filter((n) => !n.url);
  if (missing.length > 0) {
    await close();
    throw new ConfigError(
      `qdrant cluster: restoring ${artifact.file} into "${target}" needs every node (each recovers its own shards from the collection snapshot); no REST URL for ${missing.map((n) => `peer ${n.peerId} (p2p ${n.p2pUri})`).join(', ')}; nothing was restored`,
      'give qnb the REST URL of every node: QDRANT_NODE_URLS=http://node1:6333,http://node2:6333,… (or qdrant.nodes / --qdrant-node)',
    );
  }
  return { apis: cluster.nodes.filter((n) => n.api && n.api !== api).map((n) => n.api!), close };
}

/** A replica found not Active around its shard snapshot (another Active replica may be read). */
export class ReplicaStateError extends QnbError {}

/** Throws ReplicaStateError unless `peerId` reports its replica of the shard Active. */
export async function requireActive(
  api: QdrantApi,
  collection: string,
  shardId: number,
  peerId: number,
  when: 'before' | 'after',
): Promise<void> {
  const info = await api.collectionCluster(collection);
  const state = info.local_shards.find((s) => s.shard_id === shardId)?.state;
  if (state === 'Active') return;
  throw new ReplicaStateError(
    'E_SERVER',
    `qdrant cluster: shard ${shardId} of "${collection}" on peer ${peerId} was ${state ?? 'gone'} ${when} its snapshot; nothing kept from it`,
    { hint: 'back up again once every shard has an Active replica (GET /collections/NAME/cluster)' },
  );
}
