/**
 * Qdrant test server for qnb's tests: a loopback HTTP server that follows Qdrant v1.19's REST
 * API (collections, points, aliases, collection and full-storage snapshots, auth) with fault
 * injection. Start it with {@link startQdrantTestServer}; stop it with `server.stop()`.
 *
 * @example
 * const qdrant = await startQdrantTestServer({ apiKey: 'k' });
 * qdrant.inject({ op: 'download-snapshot', fault: { kind: 'truncate', afterBytes: 1000 } });
 * // … point qnb at qdrant.url …
 * await qdrant.stop();
 */
export { startQdrantTestServer } from './server.js';
export type {
  Fault,
  FaultKind,
  FaultOp,
  QdrantTestServer,
  QdrantTestServerOptions,
  RecordedRequest,
  RecoveryRecord,
  ResponseRecord,
  StoredPoint,
} from './types.js';
