/**
 * The types of the Qdrant API client (qdrant-api.ts): what qnb asks of a Qdrant server and the
 * shapes it gets back.
 */
import type { Readable } from 'node:stream';

/** `SnapshotDescription` from the Qdrant OpenAPI spec. */
export interface SnapshotDescription {
  name: string;
  creation_time?: string | null;
  size: number;
  checksum?: string | null;
}

/** An alias as Qdrant lists it. */
export interface AliasDescription {
  alias_name: string;
  collection_name: string;
}

/** A point as returned by scroll/retrieve with vectors and payload. */
export interface QdrantPoint {
  id: string | number;
  vector?: unknown;
  payload?: Record<string, unknown> | null;
}

/** Alias change actions (`POST /collections/aliases`). */
export type AliasAction =
  | { create_alias: { alias_name: string; collection_name: string } }
  | { delete_alias: { alias_name: string } };

/** A streamed download. */
export interface SnapshotDownload {
  body: Readable;
  contentLength: number | undefined;
  contentEncoding: string | undefined;
}

/** Options of a long-running call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * What a snapshot call acts on: a collection, the full storage (`null`) or one shard of a
 * collection (`/collections/{c}/shards/{id}/snapshots…`, distributed Qdrant).
 */
export type SnapshotScope = string | null | { collection: string; shard: number };

/**
 * `PayloadFieldSchema`: a payload index's type (`"keyword"`, `"integer"`, …) or its
 * PayloadSchemaParams (`{ type: "keyword", is_tenant: true }`), as `PUT …/index` takes it.
 */
export type PayloadFieldSchema = string | Record<string, unknown>;

/** `GET /cluster` (ClusterStatus). */
export interface ClusterStatus {
  status: 'enabled' | 'disabled';
  peer_id?: number;
  peers?: Record<string, { uri: string }>;
}

/** `GET /collections/{c}/cluster` (CollectionClusterInfo). */
export interface CollectionClusterInfo {
  peer_id: number;
  shard_count: number;
  local_shards: {
    shard_id: number;
    shard_key?: string | number | null;
    points_count: number;
    state: string;
  }[];
  remote_shards: { shard_id: number; shard_key?: string | number | null; peer_id: number; state: string }[];
  shard_transfers: { shard_id: number; from: number; to: number }[];
}

/** Everything qnb asks of a Qdrant server. `collection: null` means the full storage. */
export interface QdrantApi {
  readonly baseUrl: string;
  /** `GET /` — server version. */
  version(): Promise<string>;
  listCollections(): Promise<string[]>;
  /** `GET /collections/{c}` — the CollectionInfo object; NotFoundError when missing. */
  getCollection(name: string): Promise<Record<string, unknown>>;
  collectionExists(name: string): Promise<boolean>;
  /** Aliases pointing at `name`, or all aliases when `name` is undefined. */
  listAliases(name?: string): Promise<AliasDescription[]>;
  updateAliases(actions: AliasAction[]): Promise<void>;
  /**
   * `POST …/points/count {exact: true}?timeout=S` — Qdrant's own limit is 60 s (then 408)
   * unless `timeout` is sent. @default timeoutSec 600
   */
  countExact(name: string, timeoutSec?: number): Promise<number>;
  /**
   * Counts every point by scrolling ids only (no payload, no vectors), `pageSize` at a time:
   * exact, for collections whose strict mode forbids `exact: true` counts.
   */
  countByScroll(name: string, pageSize: number, timeoutSec?: number): Promise<number>;
  /** The first `limit` points in id order, with vectors and payload. */
  scroll(name: string, limit: number, timeoutSec?: number): Promise<QdrantPoint[]>;
  retrieve(name: string, ids: (string | number)[]): Promise<QdrantPoint[]>;
  /** `POST /collections/{c}/points/{op}` (scroll, query): the answer's `result`. */
  points<T>(name: string, op: 'scroll' | 'query', body: unknown): Promise<T>;
  deleteCollection(name: string): Promise<void>;
  /** `PUT /collections/{c}` with a CreateCollection body. */
  createCollection(name: string, body: Record<string, unknown>): Promise<void>;
  /** `PUT /collections/{c}/shards` (custom sharding). */
  createShardKey(name: string, shardKey: string | number): Promise<void>;
  /**
   * `PUT /collections/{c}/index?wait=true` `{field_name, field_schema}`: creates (or replaces)
   * the payload index of one field; resolves when the server built it. Idempotent; errors as
   * for every control call (NotFoundError when the collection is missing).
   */
  createPayloadIndex(name: string, field: string, schema: PayloadFieldSchema): Promise<void>;
  /** `GET /cluster`. */
  clusterStatus(): Promise<ClusterStatus>;
  /** `GET /collections/{c}/cluster`. */
  collectionCluster(name: string): Promise<CollectionClusterInfo>;
  /**
   * `POST …/snapshots?wait=true` with no client-side timeout. Returns the description, or
   * `'accepted'` when the server answered 202. Network errors are thrown as E_CONNECT; the
   * caller must then look the snapshot up instead of creating a second one.
   */
  createSnapshot(collection: SnapshotScope, opts?: CallOptions): Promise<SnapshotDescription | 'accepted'>;
  listSnapshots(collection: SnapshotScope): Promise<SnapshotDescription[]>;
  /**
   * Idempotent: a missing snapshot is not an error. Resolves true when it was deleted, false on
   * a 404 — which does not prove it is gone (an upload into an alias name, or S3 snapshot
   * storage, answers 404 for a file that stays on the server): check the listing.
   */
  deleteSnapshot(collection: SnapshotScope, snapshot: string): Promise<boolean>;
  /** `GET …/snapshots/{name}` with `Accept-Encoding: identity`, streamed. */
  downloadSnapshot(
    collection: SnapshotScope,
    snapshot: string,
    opts?: CallOptions,
  ): Promise<SnapshotDownload>;
  /**
   * The fast download (core/http-get-file.ts): the snapshot straight into a new file at `path`,
   * sha256 and size measured, fsynced. `undefined` (no file created) when the server is not
   * plain http or answered anything but a 200 with a length: then use downloadSnapshot.
   */
  downloadSnapshotToFile(
    collection: SnapshotScope,
    snapshot: string,
    path: string,
    opts: CallOptions & { expectedBytes?: number; onProgress?: (bytes: number) => void },
  ): Promise<{ bytes: number; sha256: string } | undefined>;
  /** Multipart upload (`snapshot` field) with `priority=snapshot`, `wait=true` and the checksum. */
  uploadSnapshot(
    collection: string | { collection: string; shard: number },
    body: { fileName: string; size: number; stream: Readable; sha256: string },
    opts?: CallOptions,
  ): Promise<void>;
  close(): Promise<void>;
}
