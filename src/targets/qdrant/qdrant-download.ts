/**
 * Streams a Qdrant snapshot into a reserved temp file (sha256 of the bytes written, fsynced:
 * core/transfer.ts) and checks its size and the server's checksum.
 */
import { QnbError, VerificationError } from '../../core/errors.js';
import { streamToFile } from '../../core/transfer.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi, SnapshotDescription, SnapshotScope } from './qdrant-api.js';

/** The name progress events carry (SnapshotScope: null = full storage, {collection, shard} = one shard). */
const scopeName = (scope: SnapshotScope) =>
  scope === null ? '*' : typeof scope === 'string' ? scope : `${scope.collection}#${scope.shard}`;

/** Downloads a snapshot into a reserved temp file and checks size and checksum. */
export async function download(
  api: QdrantApi,
  scope: SnapshotScope,
  snap: SnapshotDescription,
  tempPath: string,
  file: string,
  ctx: TargetContext,
): Promise<{ bytes: number; sha256: string; durationMs: number }> {
  const started = Date.now();
  const name = scopeName(scope);
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'download',
    target: 'qdrant',
    name,
    file,
    totalBytes: snap.size,
  });
  let received = 0;
  const onProgress = (bytes: number) => {
    received = bytes;
    ctx.reporter.emit({
      type: 'transfer-progress',
      direction: 'download',
      name,
      bytes,
      totalBytes: snap.size,
    });
  };
  let res: { bytes: number; sha256: string } | undefined;
  try {
    // the fast path first; anything but a plain 200 with a length comes through node:http
    res = await api.downloadSnapshotToFile(scope, snap.name, tempPath, {
      signal: ctx.signal,
      expectedBytes: snap.size,
      onProgress,
    });
    if (res === undefined) {
      const dl = await api.downloadSnapshot(scope, snap.name, { signal: ctx.signal });
      if (dl.contentEncoding) {
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          name,
          message: `server compressed the download (${dl.contentEncoding}) although qnb asked for identity; decoding it`,
        });
      }
      res = await streamToFile(dl.body, tempPath, {
        signal: ctx.signal,
        encoding: dl.contentEncoding,
        onProgress,
      });
    }
  } catch (err) {
    if (err instanceof QnbError || ctx.signal?.aborted) throw err;
    const why = (err as Error).message;
    throw new QnbError(
      'E_CONNECT',
      `qdrant ${api.baseUrl}: download of ${snap.name} broke off after ${received} of ${snap.size} bytes (${why})`,
      {
        hint: 'the server or network dropped the transfer; run the backup again',
        retryable: true,
        cause: err,
      },
    );
  }
  const durationMs = Date.now() - started;
  ctx.reporter.emit({ type: 'transfer-end', direction: 'download', name, bytes: res.bytes, durationMs });
  if (snap.size > 0 && res.bytes !== snap.size) {
    throw new VerificationError(
      `qdrant snapshot ${snap.name}: received ${res.bytes} bytes, the server reported ${snap.size}`,
      'the download was cut short; run the backup again',
    );
  }
  if (snap.checksum && snap.checksum.toLowerCase() !== res.sha256) {
    throw new VerificationError(
      `qdrant snapshot ${snap.name}: sha256 ${res.sha256} does not match the server's checksum ${snap.checksum}`,
      'the download was corrupted; run the backup again',
    );
  }
  return { ...res, durationMs };
}
