/**
 * GET an `http:` or `https:` URL into a new file at the speed of the machine: bytes are read from the socket
 * straight into a shared ring (raw-http.ts, ring-file.ts), written from there with no copy, hashed
 * (sha256) on a worker thread, flushed in the background every 32 MiB (fdatasync) and fsynced
 * before it resolves. node:http's parser costs more CPU than receiving the bytes (bench/FINDINGS.md:
 * node:http receiving alone reached 0.85× `curl -o`, reading into the ring 2×), so this reads the
 * answer itself — and only the simplest one: `200` with a Content-Length and no Content-Encoding or
 * Transfer-Encoding. For anything else it resolves `undefined` before creating the file, and
 * the caller asks again through its ordinary client (errors, redirects, chunked, compressed).
 */
import { abortError, IDLE_TIMEOUT, identityLength, type RawGet, rawGet, requestText } from './raw-http.js';
import { createRingFile, WORKER_MIN_BYTES } from './ring-file.js';
import type { StreamResult } from './transfer.js';

export { IDLE_TIMEOUT, WORKER_MIN_BYTES };

export interface GetToFileOptions {
  /** Request headers (an api-key among them); values must not contain CR or LF. */
  headers: Record<string, string>;
  /** The expected size: decides worker or inline hashing. */
  expectedBytes?: number;
  signal?: AbortSignal;
  /** Longest silence while connecting or receiving. */
  idleMs?: number;
  onProgress?: (bytes: number) => void;
}

/**
 * Writes the body of `GET url` to a new file at `path` (must not exist); resolves its size and
 * sha256 once it is fsynced, or `undefined` (no file created) when the answer is not a plain 200
 * with a Content-Length. `http:` and `https:` URLs; network errors reject with the socket's error.
 */
export async function getToFile(
  url: URL,
  path: string,
  opts: GetToFileOptions,
): Promise<StreamResult | undefined> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  opts.signal?.throwIfAborted();
  const request = requestText(url, opts.headers);
  let get: RawGet | undefined;
  const file = createRingFile(path, {
    ...(opts.expectedBytes !== undefined ? { expectedBytes: opts.expectedBytes } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    onError: (e) => get?.destroy(e),
  });
  const onAbort = () => get?.destroy(abortError());
  try {
    get = rawGet({
      url,
      request,
      file,
      onHead: (head) => {
        const len = head.status === 200 ? identityLength(head) : undefined;
        if (len !== undefined) file.open();
        return len;
      },
      ...(opts.idleMs !== undefined ? { idleMs: opts.idleMs } : {}),
    });
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if ((await get.done) === undefined) return undefined;
    return await file.finish();
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    get?.destroy();
    await file.close();
  }
}
