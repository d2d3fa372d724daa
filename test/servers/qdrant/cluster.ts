/**
 * Cluster mode: several test-server nodes (each on its own HTTP port) share one `ClusterState`:
 * one Store (so reads through any node see every shard, as Qdrant forwards them) and one shard
 * placement. Each node serves only its local shards for snapshots, like Qdrant's distributed
 * mode: a collection snapshot through one node holds only that node's shards, shard snapshots
 * are created and uploaded on a node holding the shard.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idKey } from './points.js';
import { startQdrantTestServer } from './server.js';
import { type CollectionState, Store } from './store.js';
import type { QdrantTestServer, QdrantTestServerOptions, StoredPoint } from './types.js';

type Json = Record<string, unknown>;

/** One replica of a shard. */
export interface Replica {
  peerId: number;
  state: string;
}

/** One shard: id, custom shard key, replicas. */
export interface ShardPlacement {
  shardId: number;
  shardKey?: string | number;
  replicas: Replica[];
}

/** A node's view of the cluster: the shared state and its own peer id. */
export interface ClusterMember {
  cluster: ClusterState;
  peerId: number;
}

/** Shard of a point id under auto sharding (stable hash of the id). */
export function shardOf(key: string, shards: number): number {
  let h = 0;
  for (let i = 0; i < key.length; i++) h = (h * 31 + key.charCodeAt(i)) >>> 0;
  return h % shards;
}

/** Shard ids of a collection: 0..n-1 (auto), 1..k per shard key (custom). */
export function shardIds(c: CollectionState): { shardId: number; shardKey?: string | number }[] {
  const params = c.config.params as Json;
  if (params.sharding_method === 'custom')
    return c.shardKeys.map((k, i) => ({ shardId: i + 1, shardKey: k }));
  const n = params.shard_number as number;
  return Array.from({ length: n }, (_, i) => ({ shardId: i }));
}

/** Does point `p` live in shard `shardId` of `c`? */
export function inShard(c: CollectionState, p: StoredPoint, shardId: number): boolean {
  const params = c.config.params as Json;
  if (params.sharding_method === 'custom') return p.shard_key === c.shardKeys[shardId - 1];
  return shardOf(idKey(p.id), params.shard_number as number) === shardId;
}

/** The state every node of one test cluster shares. */
export class ClusterState {
  readonly store = new Store();
  /** peer id -> p2p URI (not the REST URL, like Qdrant's `peers[id].uri`). */
  readonly peers = new Map<number, string>();
  /** peers whose process is down (fault switch). */
  readonly down = new Set<number>();
  private readonly placements = new WeakMap<CollectionState, ShardPlacement[]>();
  private next = 0;

  /** Placement of `c`, made on first use (round robin over the peers, `replication_factor` replicas). */
  placement(c: CollectionState): ShardPlacement[] {
    const ids = shardIds(c);
    let p = this.placements.get(c);
    if (!p || p.length !== ids.length) {
      const old = p ?? [];
      const peers = [...this.peers.keys()];
      const rf = Math.min(peers.length, Number((c.config.params as Json).replication_factor ?? 1));
      p = ids.map((s) => {
        const known = old.find((o) => o.shardId === s.shardId);
        if (known) return known;
        const start = this.next++;
        const replicas = Array.from({ length: rf }, (_, r) => ({
          peerId: peers[(start + r) % peers.length]!,
          state: 'Active',
        }));
        return { ...s, replicas };
      });
      this.placements.set(c, p);
    }
    return p;
  }

  /** Test hook: set the state of one replica (e.g. 'Partial', 'Dead'). */
  setReplicaState(c: CollectionState, shardId: number, peerId: number, state: string): void {
    const r = this.placement(c)
      .find((s) => s.shardId === shardId)
      ?.replicas.find((x) => x.peerId === peerId);
    if (!r) throw new Error(`no replica of shard ${shardId} on peer ${peerId}`);
    r.state = state;
  }

  /** Shard ids of `c` with a replica on `peerId`. */
  localShards(c: CollectionState, peerId: number): number[] {
    return this.placement(c)
      .filter((s) => s.replicas.some((r) => r.peerId === peerId))
      .map((s) => s.shardId);
  }

  /** ClusterStatus (enabled) as seen by `peerId`. */
  status(peerId: number): Json {
    const ids = [...this.peers.keys()];
    const leader = ids[0] ?? peerId;
    const failures: Json = {};
    for (const id of this.down) {
      if (id !== peerId) failures[this.peers.get(id)!] = { count: 3, latest_error: 'transport error' };
    }
    return {
      status: 'enabled',
      peer_id: peerId,
      peers: Object.fromEntries([...this.peers].map(([id, uri]) => [String(id), { uri }])),
      raft_info: {
        term: 1,
        commit: 10 + ids.length,
        pending_operations: 0,
        leader,
        role: leader === peerId ? 'Leader' : 'Follower',
        is_voter: true,
      },
      consensus_thread_status: { consensus_thread_status: 'working', last_update: new Date().toISOString() },
      message_send_failures: failures,
    };
  }

  /** CollectionClusterInfo of `c` as seen by `peerId`. */
  collectionInfo(c: CollectionState, peerId: number): Json {
    const local: Json[] = [];
    const remote: Json[] = [];
    const points = [...c.points.values()];
    for (const s of this.placement(c)) {
      const key = s.shardKey === undefined ? {} : { shard_key: s.shardKey };
      for (const r of s.replicas) {
        if (r.peerId === peerId) {
          const count = points.filter((p) => inShard(c, p, s.shardId)).length;
          local.push({ shard_id: s.shardId, ...key, points_count: count, state: r.state });
        } else remote.push({ shard_id: s.shardId, ...key, peer_id: r.peerId, state: r.state });
      }
    }
    return {
      peer_id: peerId,
      shard_count: this.placement(c).length,
      local_shards: local,
      remote_shards: remote,
      shard_transfers: [],
    };
  }
}

/** A running test cluster. */
export interface QdrantTestCluster {
  state: ClusterState;
  nodes: QdrantTestServer[];
  peerIds: number[];
  urls: string[];
  /** Fault switch: stop node i's HTTP server (connections refused) until `up(i)`. */
  down(i: number): Promise<void>;
  up(i: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts `nodes` test servers forming one cluster. `start` lets callers route through their own
 * starter (e.g. ValidatedServers.start for OpenAPI validation).
 */
export async function startQdrantTestCluster(
  opts: QdrantTestServerOptions & {
    nodes?: number;
    start?: (o: QdrantTestServerOptions) => Promise<QdrantTestServer>;
  } = {},
): Promise<QdrantTestCluster> {
  const { nodes: count = 3, start = startQdrantTestServer, ...serverOpts } = opts;
  const state = new ClusterState();
  const base = await mkdtemp(join(tmpdir(), 'qdrant-test-cluster-'));
  const peerIds = Array.from({ length: count }, (_, i) => 1_000_000_000_000 + (i + 1) * 1111);
  peerIds.forEach((id, i) => {
    state.peers.set(id, `http://qdrant-node-${i + 1}:6335/`);
  });
  const optsOf = (i: number, port?: number): QdrantTestServerOptions => ({
    ...serverOpts,
    port,
    dataDir: join(base, `node-${i + 1}`),
    peerId: peerIds[i],
    cluster: { cluster: state, peerId: peerIds[i]! },
  });
  const nodes: QdrantTestServer[] = [];
  for (let i = 0; i < count; i++) nodes.push(await start(optsOf(i)));
  const cluster: QdrantTestCluster = {
    state,
    nodes,
    peerIds,
    urls: nodes.map((n) => n.url),
    async down(i) {
      if (state.down.has(peerIds[i]!)) return;
      state.down.add(peerIds[i]!);
      await nodes[i]!.stop();
    },
    async up(i) {
      if (!state.down.has(peerIds[i]!)) return;
      nodes[i] = await start(optsOf(i, nodes[i]!.port));
      state.down.delete(peerIds[i]!);
    },
    async stop() {
      await Promise.all(nodes.filter((_, i) => !state.down.has(peerIds[i]!)).map((n) => n.stop()));
      await rm(base, { recursive: true, force: true });
    },
  };
  return cluster;
}
