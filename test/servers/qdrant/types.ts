/**
 * Public types of the Qdrant test server (see `index.ts`). Kept stable: qnb's tests depend on them.
 */

/** Options of {@link startQdrantTestServer}. */
export interface QdrantTestServerOptions {
  /** TCP port; 0 (default) picks a free port. */
  port?: number;
  /** Bind address; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Manage (read-write) API key, like `service.api_key`. */
  apiKey?: string;
  /** Read-only API key, like `service.read_only_api_key`. */
  readOnlyApiKey?: string;
  /** Version reported by `GET /`; default '1.19.0'. */
  version?: string;
  /** Where snapshots, uploads and temp files live; default: a fresh mkdtemp dir removed by stop(). */
  dataDir?: string;
  /**
   * `storage.snapshots_config.snapshots_storage`: `s3` lists snapshots with `checksum: null`,
   * streams downloads without Content-Length and keeps uploads where delete cannot find them
   * (see s3-storage.ts). Default `local`.
   */
  snapshotsStorage?: 'local' | 's3';
  /**
   * How long a recovery (upload/recover) takes after the collection exists: Qdrant creates a
   * missing collection first, then recovers the shards, so meanwhile it is there and empty.
   * Default 0.
   */
  recoveryDelayMs?: number;
  /**
   * How long the optimizer takes, after a write or a recovery, to make points deferred by
   * `optimizers_config.prevent_unoptimized: true` visible (see deferred.ts). Default 300.
   */
  optimizeDelayMs?: number;
  /** Peer id used in snapshot names; default: random. */
  peerId?: number;
  /**
   * Extra (not in the original brief): called once per finished or aborted response with the
   * status, headers and (for JSON/text) the body bytes. Used by the tests to validate every
   * response against the OpenAPI spec.
   */
  onResponse?: (record: ResponseRecord) => void;
  /** Cluster mode: join this shared cluster state (see cluster.ts, startQdrantTestCluster). */
  cluster?: import('./cluster.js').ClusterMember;
  /**
   * HTTPS, like `service.enable_tls: true` with `tls.cert` and `tls.key`: the PEM certificate
   * (chain) and key. The server's `url` is then `https://…`.
   */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

/**
 * Operation names that faults can target. `any` matches every operation.
 * Mapping: root = `GET /`, `/healthz`, `/livez`, `/readyz`; get-collection = `GET /collections/{c}`,
 * `…/exists`, `GET …/shards`; aliases = all three alias routes; create-collection also covers
 * `PUT …/shards`; retrieve = `POST …/points` and `GET …/points/{id}`; cluster = `GET /cluster`,
 * `GET …/{c}/cluster`; create-index = `PUT …/index` and `DELETE …/index/{field}`. A fault only hits operations it can apply to (e.g. `truncate` only downloads).
 */
export type FaultOp =
  | 'root'
  | 'list-collections'
  | 'get-collection'
  | 'aliases'
  | 'count'
  | 'scroll'
  | 'create-snapshot'
  | 'list-snapshots'
  | 'download-snapshot'
  | 'delete-snapshot'
  | 'upload-snapshot'
  | 'recover-snapshot'
  | 'create-full-snapshot'
  | 'download-full-snapshot'
  // extra operations (beyond the brief)
  | 'list-full-snapshots'
  | 'delete-full-snapshot'
  | 'create-collection'
  | 'delete-collection'
  | 'upsert'
  | 'retrieve'
  | 'cluster'
  | 'query'
  | 'create-index'
  | 'any';

/** What an injected fault does. */
export type FaultKind =
  /** any op: answer `status` with Qdrant's JSON error envelope (401: plain text), nothing done */
  | { kind: 'status'; status: number; message?: string }
  /** any op: delay before answering (and between 64 KiB chunks of downloads); combines with one other fault */
  | { kind: 'slow'; delayMs: number }
  /** any op: RST the connection; downloads after `afterBytes` of body, uploads after `afterBytes` of request body */
  | { kind: 'reset'; afterBytes?: number }
  /** create/list (collection or full) snapshots: report a wrong checksum (the `.checksum` file stays right) */
  | { kind: 'wrong-checksum' }
  /** create/list (collection or full) snapshots: report `checksum: null` */
  | { kind: 'null-checksum' }
  /** downloads: full Content-Length, body ends after `afterBytes`, connection closed (FIN) */
  | { kind: 'truncate'; afterBytes: number }
  /** downloads: gzip the body even if the client asked for identity */
  | { kind: 'compress' }
  /** create/delete/upload/recover/full snapshot ops: 202 accepted at once even for wait=true, work in background */
  | { kind: 'accepted' }
  /** any op: 500 "Service internal error: No space left on device (os error 28)", nothing done */
  | { kind: 'disk-full' }
  /** mutating ops: do the work, then destroy the connection instead of answering */
  | { kind: 'drop-after-commit' }
  /** query: approximate (non-exact) searches see every other point only, as a broken HNSW index would */
  | { kind: 'degraded-index' }
  /**
   * create/upload/recover snapshot ops: a reverse proxy in front of Qdrant gives up (its read
   * timeout): the client gets `status` (default 504) as an HTML page with a `Via` header once the
   * request is read, while Qdrant finishes the work in the background (its handlers are spawned)
   */
  | { kind: 'proxy-gave-up'; status?: 502 | 504 }
  /**
   * any op: the request crosses Qdrant's close of an idle keep-alive connection (actix closes
   * connections idle for 5 s): the connection is closed (FIN) before the request is read,
   * nothing is done and nothing answered. Meant for a request on a reused connection.
   */
  | { kind: 'keep-alive-close' };

/** A fault to inject: which operation (and optionally which collection), how often, what. */
export interface Fault {
  op: FaultOp;
  collection?: string;
  /** How many matching requests it affects; default 1; Infinity allowed. */
  times?: number;
  fault: FaultKind;
}

/**
 * One request seen by the server, in arrival order. `status` is filled in when the response is
 * done; it stays 0 if the connection was dropped before a status line was sent.
 */
export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  status: number;
}

/** One response as sent on the wire (body captured for JSON and text only). */
export interface ResponseRecord {
  method: string;
  path: string;
  status: number;
  headers: Record<string, string | undefined>;
  /** Body bytes for JSON/text responses; undefined for binary downloads. */
  body?: Buffer;
  /** True if the socket was destroyed before the response finished. */
  aborted: boolean;
}

/** A recovery request (upload or recover), recorded so tests can assert what the client sent. */
export interface RecoveryRecord {
  source: 'upload' | 'recover';
  collection: string;
  /** `priority` as sent (null when absent). */
  priority: string | null;
  /** `checksum` as sent (null when absent). */
  checksum: string | null;
  wait: boolean;
  /** upload: the multipart file name; recover: the location URL. */
  location: string;
}

/** A point as stored, for direct assertions. */
export interface StoredPoint {
  id: number | string;
  vector: Record<string, number[] | number[][] | { indices: number[]; values: number[] }>;
  payload: Record<string, unknown>;
  shard_key?: string | number;
}

/** A running test server. */
export interface QdrantTestServer {
  url: string;
  port: number;
  dataDir: string;
  snapshotsDir: string;
  version: string;
  /** Add a fault; faults are consumed in injection order. */
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Every request, in order. */
  requests: RecordedRequest[];
  /** Extra: every upload/recover request with its priority/checksum. */
  recoveries: RecoveryRecord[];
  /**
   * Test-only: give this collection `bytes` of bulk data, archived as `padding.bin` into each of
   * its snapshots. The pseudo-random bytes are written to a file once, now (like segment data a
   * real collection holds on disk); snapshots copy that file. Resolves once the file is written
   * (a snapshot created before waits for it); 0 removes the padding.
   */
  setSnapshotPadding(collection: string, bytes: number): Promise<void>;
  /** direct state access for assertions, bypassing HTTP */
  collections(): string[];
  /** Extra: copies of the stored points of a collection, in Qdrant's id order. */
  points(collection: string): StoredPoint[];
  /** Extra: alias name -> collection name. */
  aliases(): Record<string, string>;
  /** Closes the server, destroys open sockets, removes a mkdtemp dataDir. */
  stop(): Promise<void>;
}
