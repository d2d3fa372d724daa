/**
 * GET a plain-HTTP URL into a new file at the speed of the machine: bytes are read from the socket
 * straight into a shared ring (byte-ring.ts), written from there with no copy by one worker thread
 * and hashed (sha256) by another, so the receiving thread only receives; flushed in the background
 * every 32 MiB (fdatasync) and fsynced before it resolves. node:http's parser costs more CPU than receiving the bytes (bench/FINDINGS.md: node:http
 * receiving alone reached 0.85× `curl -o`, reading into the ring 2×), so this reads the answer
 * itself — and only the simplest one: `200` with a Content-Length and no Content-Encoding or
 * Transfer-Encoding. For anything else it resolves `undefined` before creating the file, and
 * the caller asks again through its ordinary client (errors, redirects, chunked, compressed).
 */
import { closeSync, fdatasync, fsync, openSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { createByteRing } from './byte-ring.js';
import { ioError } from './errors.js';
import { SYNC_EVERY } from './file-writer.js';
import { FILE_MODE } from './fs-safe.js';
import { type StreamResult, throttled } from './transfer.js';

/** Transfers at least this large hash on a worker thread; smaller ones inline. */
export const WORKER_MIN_BYTES = 8 << 20;

/** Longest answer head read before giving up. */
const HEAD_MAX = 64 * 1024;

/** Code of the error a silent connection is destroyed with (here and in qdrant-http.ts). */
export const IDLE_TIMEOUT = 'QNB_IDLE_TIMEOUT';

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

interface Head {
  status: number;
  headers: Map<string, string>;
}

function parseHead(text: string): Head {
  const [statusLine = '', ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP answer: ${JSON.stringify(statusLine.slice(0, 40))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { status: Number(m[1]), headers };
}

/** A plain 200 with a length and identity bytes: the only answer read here. */
function contentLength(head: Head): number | undefined {
  const enc = head.headers.get('content-encoding');
  if (head.status !== 200 || head.headers.has('transfer-encoding')) return undefined;
  if (enc !== undefined && enc.toLowerCase() !== 'identity') return undefined;
  const len = head.headers.get('content-length');
  return len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
}

function requestText(url: URL, headers: Record<string, string>): string {
  const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  // user:password in the URL, as node:http sends it
  if (url.username || url.password) {
    const user = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    lines.push(`Authorization: Basic ${Buffer.from(user).toString('base64')}`);
  }
  for (const [k, v] of Object.entries(headers)) {
    if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new Error(`header ${k} contains a line break`);
    lines.push(`${k}: ${v}`);
  }
  lines.push('Connection: close', '', '');
  return lines.join('\r\n');
}

const abortError = () =>
  Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });

/**
 * Writes the body of `GET url` to a new file at `path` (must not exist); resolves its size and
 * sha256 once it is fsynced, or `undefined` (no file created) when the answer is not a plain 200
 * with a Content-Length. Only `http:` URLs; network errors reject with the socket's error.
 */
export async function getToFile(
  url: URL,
  path: string,
  opts: GetToFileOptions,
): Promise<StreamResult | undefined> {
  if (url.protocol !== 'http:') return undefined;
  opts.signal?.throwIfAborted();
  const request = requestText(url, opts.headers);
  const ring = createByteRing({ worker: (opts.expectedBytes ?? 0) >= WORKER_MIN_BYTES, write: true });
  const progress = throttled(opts.onProgress);
  let fd: number | undefined;
  let socket: Socket | undefined;
  let syncing: Promise<void> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const got = await new Promise<StreamResult | undefined>((resolve, reject) => {
      let head: Buffer | undefined = Buffer.alloc(0);
      let length = 0;
      let bytes = 0;
      let unsynced = 0;
      let settled = false;
      // a failed write (here, or on the ring's writing thread) names the file
      const named = (err: Error) => {
        const e = err as NodeJS.ErrnoException;
        return e.syscall === 'write' ? ioError(e, path) : e;
      };
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        socket?.destroy();
        reject(named(err));
      };
      const backgroundSync = (file: number) => {
        unsynced = 0;
        syncing = new Promise<void>((done, bad) => fdatasync(file, (e) => (e ? bad(e) : done())));
        syncing.then(
          () => {
            syncing = undefined;
          },
          (e: Error) => fail(ioError(e as NodeJS.ErrnoException, path)),
        );
      };
      const finish = async (file: number) => {
        await syncing;
        const sha256 = await ring.digest();
        await new Promise<void>((done, bad) => fsync(file, (e) => (e ? bad(e) : done())));
        return { bytes, sha256 };
      };
      /** Takes the head off the first read(s); the offset where the body starts, or -1. */
      const readHead = (buf: Buffer, n: number): number => {
        const seen = (head as Buffer).length;
        const all = Buffer.concat([head as Buffer, buf.subarray(0, n)]);
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) {
          if (all.length > HEAD_MAX) throw new Error('the answer head is larger than 64 KiB');
          head = all;
          return -1;
        }
        head = undefined;
        const len = contentLength(parseHead(all.subarray(0, end).toString('latin1')));
        if (len === undefined) {
          settled = true;
          socket?.destroy();
          resolve(undefined);
          return -1;
        }
        length = len;
        try {
          fd = openSync(path, 'wx', FILE_MODE);
          ring.setFile(fd);
        } catch (err) {
          throw ioError(err as NodeJS.ErrnoException, path);
        }
        return end + 4 - seen;
      };
      const onRead = (n: number, buf: Buffer): boolean => {
        if (settled) return false;
        try {
          let from = 0;
          if (head !== undefined) {
            from = readHead(buf, n);
            if (from < 0) return !settled;
          }
          const file = fd as number;
          const take = n - from;
          if (bytes + take > length)
            throw new Error(`the server sent more than its Content-Length ${length}`);
          bytes += take;
          unsynced += take;
          if (unsynced >= SYNC_EVERY && !syncing) backgroundSync(file);
          progress(bytes);
          const more = take === 0 || ring.commit(from, take);
          if (bytes === length) {
            settled = true;
            socket?.destroy();
            finish(file).then(resolve, (e: Error) => reject(named(e)));
            return false;
          }
          if (!more) {
            ring.free().then(() => socket?.resume(), fail);
            return false;
          }
          return true;
        } catch (err) {
          fail(err as Error);
          return false;
        }
      };
      socket = connect({
        host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: Number(url.port || 80),
        onread: { buffer: () => ring.slot(), callback: onRead },
      });
      socket.on('connect', () => socket?.write(request));
      socket.on('error', fail);
      socket.on('close', () =>
        fail(new Error(`the connection closed after ${bytes} of ${length || '?'} bytes`)),
      );
      if (opts.idleMs !== undefined) {
        const idleMs = opts.idleMs;
        socket.setTimeout(idleMs, () =>
          fail(
            Object.assign(new Error(`no data for ${Math.round(idleMs / 1000)} s`), {
              code: IDLE_TIMEOUT,
            }),
          ),
        );
      }
      onAbort = () => fail(abortError());
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
    if (got !== undefined) {
      opts.onProgress?.(got.bytes);
    }
    return got;
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    socket?.destroy();
    await ring.close();
    // no fdatasync of ours may still run on the descriptor when it is closed
    await syncing?.catch(() => {});
    if (fd !== undefined) closeSync(fd);
  }
}
