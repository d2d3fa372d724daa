/**
 * The restore download of one S3 object straight into a new file, for path-style endpoints: signed
 * (SigV4, s3-sign.ts) ranged GETs over raw sockets, each answer read into one shared ring
 * (core/raw-http.ts, core/ring-file.ts), written in order, hashed on a worker across the ranges,
 * flushed in the background and fsynced. The SDK's GetObject body (node:http) allocates a 64 KiB
 * buffer per socket read; on a 2 GiB restore its GC and the hash on the same thread made qnb half
 * as fast as rclone (bench/FINDINGS.md).
 *
 * The same rules as the SDK path (s3-download.ts): the first answer's Content-Range tells the size
 * and its ETag pins the version; every later range is asked `If-Match` that ETag (412 → "replaced
 * while qnb read it"), must be 206 with exactly the range asked and the same total, and exactly
 * that many bytes. At most `concurrency` requests are open, the one being read included; the later
 * ones are sent but not read (their answers wait in the kernel's socket buffers and TCP's window,
 * not in qnb's memory). Anything unexpected in the first answer (an error status, an empty object,
 * no ETag, a compressed or chunked body) or a failure to reach the server resolves `undefined`
 * before the file exists, and the caller asks again through the SDK, whose errors say what is
 * wrong. Once the file exists, every failure rejects naming the object and the range.
 */
import { QnbError } from '../../core/errors.js';
import {
  abortError,
  type Head,
  IDLE_TIMEOUT,
  identityLength,
  type RawGet,
  rawGet,
  requestText,
  SHORT_BODY,
} from '../../core/raw-http.js';
import { createRingFile, type RingSinkFactory } from '../../core/ring-file.js';
import type { StreamResult } from '../../core/transfer.js';
import { type SigningKeys, s3Path, signGet } from './s3-sign.js';

/** One object to download. */
export interface FastGet {
  /** The server, `http:` or `https:`; an endpoint with a path resolves `undefined`. */
  endpoint: URL;
  bucket: string;
  /** Full object key. */
  key: string;
  /** For messages: `s3://bucket/prefix (endpoint): get KEY`. */
  shownKey: string;
  region: string;
  /** The client's credentials (asked again for each range: providers refresh expiring keys). */
  keys: () => Promise<SigningKeys>;
  rangeSize: number;
  /** Requests open at once, the one being read included (≥ 2). */
  concurrency: number;
  /** Longest silence of a connection being read. @default 300 s */
  idleMs?: number;
}

export interface FastGetOptions {
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  /** The size the caller expects: decides worker or inline hashing. */
  expectedBytes?: number;
  /** What the bytes go into instead of the file itself (an encrypted copy's decryption). */
  sink?: RingSinkFactory;
}

/** `bytes 0-8388607/2147483648` → its numbers (total undefined when `*`). */
function contentRange(head: Head): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(head.headers.get('content-range') ?? '');
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] !== '*' ? { total: Number(m[3]) } : {}) };
}

const NETWORK = /^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH)$/;

interface Pending {
  get: RawGet;
  start: number;
  end: number;
}

/**
 * Downloads the object into a new file at `path` (must not exist): its size and sha256 once
 * fsynced, or `undefined` (no file created) when the SDK should do it.
 */
export async function s3GetToFile(
  spec: FastGet,
  path: string,
  opts: FastGetOptions = {},
): Promise<StreamResult | undefined> {
  if (!/^https?:$/.test(spec.endpoint.protocol) || spec.endpoint.pathname !== '/') return undefined;
  opts.signal?.throwIfAborted();
  const url = new URL(s3Path(spec.bucket, spec.key), spec.endpoint);
  const what = (start: number, end: number) => `${spec.shownKey}: bytes ${start}–${end}`;
  const gets = new Set<RawGet>();
  let stopped: Error | undefined;
  const stop = (e: Error) => {
    stopped ??= e;
    for (const g of gets) g.destroy(e);
  };
  const file = (opts.sink ?? createRingFile)(path, {
    ...(opts.expectedBytes !== undefined ? { expectedBytes: opts.expectedBytes } : {}),
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    onError: stop,
  });
  let total = 0;
  let etag: string | undefined;
  let next = 0;
  const queue: Promise<Pending>[] = [];

  /** Sends the GET of bytes start–end (signed now), paused unless it is the first. */
  const send = async (start: number, end: number, onHead: (h: Head) => number | undefined) => {
    const keys = await spec.keys();
    if (stopped) throw stopped;
    const headers = signGet({
      host: url.host,
      path: url.pathname,
      headers: { range: `bytes=${start}-${end}`, ...(etag ? { 'if-match': etag } : {}) },
      region: spec.region,
      keys,
      now: new Date(),
    });
    const get = rawGet({
      url,
      request: requestText(url, headers),
      file,
      onHead,
      paused: start > 0,
      idleMs: spec.idleMs ?? 300_000,
    });
    gets.add(get);
    const forget = () => gets.delete(get);
    get.done.then(forget, forget);
    return get;
  };
  /** A later range's answer must be exactly the bytes asked of the version pinned. */
  const laterHead = (start: number, end: number) => (head: Head) => {
    const fail = (why: string, retryable = false) =>
      new QnbError('E_SERVER', `${what(start, end)}: ${why}`, { retryable });
    if (head.status === 412)
      throw new QnbError('E_SERVER', `${what(start, end)}: the object was replaced while qnb read it`, {
        hint: 'run the command again',
        retryable: true,
      });
    if (head.status === 403)
      throw new QnbError('E_AUTH', `${what(start, end)}: the server refused the request (403)`, {
        hint: 'check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy',
      });
    if (head.status !== 206)
      throw fail(`the server answered HTTP ${head.status}`, head.status >= 500 || head.status === 429);
    const range = contentRange(head);
    if (range?.total !== total) throw fail('the object changed size while qnb read it', true);
    if (range.start !== start || range.end !== end || identityLength(head) !== end - start + 1)
      throw fail(`the server answered another range (${head.headers.get('content-range')})`);
    return end - start + 1;
  };
  const fill = () => {
    while (queue.length + 1 < spec.concurrency && next < total) {
      const start = next;
      const end = Math.min(start + spec.rangeSize, total) - 1;
      next = end + 1;
      const p = send(start, end, laterHead(start, end)).then((get) => ({ get, start, end }));
      // failures are awaited in order below; this only keeps them from counting as unhandled
      p.catch(() => {});
      queue.push(p);
    }
  };
  /** The first answer: the object's size and version, or undefined to leave it to the SDK. */
  const firstHead = (head: Head) => {
    const len = identityLength(head);
    if (len === undefined) return undefined;
    if (head.status === 200) {
      // a server that ignores Range sends the whole object
      total = len;
    } else {
      const range = contentRange(head);
      if (head.status !== 206 || range?.start !== 0 || range.end !== len - 1) return undefined;
      if (range.total === undefined) return undefined;
      total = range.total;
      etag = head.headers.get('etag');
      if (total > len && !etag) return undefined;
    }
    file.open();
    next = len;
    fill();
    return len;
  };
  /** A failure as one error naming the object and the range. */
  const named = (e: unknown, start: number, end: number): unknown => {
    const err = e as NodeJS.ErrnoException & { received?: number };
    if (e instanceof QnbError || err?.name === 'AbortError' || opts.signal?.aborted) return e;
    if (err.code === SHORT_BODY)
      return new QnbError(
        'E_SERVER',
        `${what(start, end)}: the server sent ${err.received} of ${end - start + 1} bytes, then stopped`,
        { hint: 'run the command again', retryable: true },
      );
    const net = err.code === IDLE_TIMEOUT ? err.message : NETWORK.test(err.code ?? '') ? err.code : undefined;
    if (net)
      return new QnbError('E_CONNECT', `${what(start, end)}: the connection failed (${net})`, {
        hint: 'is the S3 server running? check QNB_S3_ENDPOINT',
        retryable: true,
      });
    return new QnbError('E_SERVER', `${what(start, end)}: ${err.message}`, { retryable: true });
  };
  const onAbort = () => stop(abortError());
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const firstEnd = spec.rangeSize - 1;
    let got: number | undefined;
    try {
      got = await (await send(0, firstEnd, firstHead)).done;
    } catch (e) {
      // not reachable, or a broken first answer: the SDK asks again (with its retries)
      if (!file.opened() && !opts.signal?.aborted && !(e instanceof QnbError)) return undefined;
      throw named(e, 0, firstEnd);
    }
    if (got === undefined) return undefined;
    while (queue.length) {
      const { get, start, end } = await (queue.shift() as Promise<Pending>);
      fill();
      get.start();
      try {
        await get.done;
      } catch (e) {
        throw named(e, start, end);
      }
    }
    if (file.bytes() !== total)
      throw new QnbError('E_SERVER', `${spec.shownKey}: read ${file.bytes()} of ${total} bytes`);
    return await file.finish();
  } catch (e) {
    stop(e as Error);
    throw e;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    stop(abortError());
    await Promise.allSettled(queue);
    await file.close();
  }
}
