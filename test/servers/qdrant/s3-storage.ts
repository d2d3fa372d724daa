/**
 * `storage.snapshots_config.snapshots_storage: s3`, as Qdrant does it: snapshots are built
 * locally, then stored as objects (here: a folder standing for the bucket, `<dataDir>/s3`);
 * listings come from the bucket with `checksum: null` (Qdrant keeps no checksum for S3
 * objects); downloads are a chunked stream with no Content-Length and no ranges; uploads for
 * recovery are still saved in the LOCAL `snapshots/<name>/` folder, where the snapshot delete
 * (which looks in the bucket) cannot find them: 404, and the file stays.
 */
import { join } from 'node:path';
import type { Env } from './context.js';
import type { SnapshotDescription } from './snapshot-files.js';

/** Where snapshots are stored (for collection snapshots, the collection's sub-folder). */
export function snapshotStoreDir(env: Env, collection?: string): string {
  const root = env.snapshotsStorage === 's3' ? join(env.dataDir, 's3') : env.snapshotsDir;
  return collection === undefined ? root : join(root, collection);
}

/** A description as the storage reports it (S3: no checksum). */
export function asStored(env: Env, d: SnapshotDescription): SnapshotDescription {
  return env.snapshotsStorage === 's3' ? { ...d, checksum: null } : d;
}
