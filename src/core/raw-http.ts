/**
 * One HTTP/1.1 GET over a raw socket (`net.connect({ onread })`), its answer read straight into a
 * ring file's slots (ring-file.ts): no parser, no Buffer per read, no stream plumbing (node:http's
 * receiving cost 3× the CPU of this, bench/FINDINGS.md). Only the head is parsed here; the caller
 * judges it and says how many body bytes to take, or leaves the answer to its ordinary client.
 * Every request says `Connection: close`: one answer per socket.
 *
 * A GET may be sent `paused`: the request goes out but nothing is read until `start()`, so the
 * answer waits in the kernel's socket buffers and TCP's window (bounded, and not qnb's memory)
 * while the answers before it are read into the same ring.
 */
import { connect, type Socket } from 'node:net';
import type { RingFile } from './ring-file.js';

/** Longest answer head read before giving up. */
const HEAD_MAX = 64 * 1024;

/** Code of the error a silent connection is destroyed with (here and in qdrant-http.ts). */
export const IDLE_TIMEOUT = 'QNB_IDLE_TIMEOUT';

/** Code of the error when the connection closes before the body's last byte. */
export const SHORT_BODY = 'QNB_SHORT_BODY';

/** An answer's status and headers (names lower-cased). */
export interface Head {
  status: number;
  headers: Map<string, string>;
}

export function parseHead(text: string): Head {
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

/** The Content-Length of an answer whose body comes as identity bytes; undefined otherwise. */
export function identityLength(head: Head): number | undefined {
  const enc = head.headers.get('content-encoding');
  if (head.headers.has('transfer-encoding')) return undefined;
  if (enc !== undefined && enc.toLowerCase() !== 'identity') return undefined;
  const len = head.headers.get('content-length');
  return len !== undefined && /^\d+$/.test(len) ? Number(len) : undefined;
}

/** `GET` request text for `url` with `headers` (values must not hold CR or LF). */
export function requestText(url: URL, headers: Record<string, string>): string {
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

export const abortError = () =>
  Object.assign(new Error('The operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });

export interface RawGetOptions {
  url: URL;
  /** The whole request (requestText). */
  request: string;
  /** Where the body goes; opened by `onHead` when it takes the answer. */
  file: RingFile;
  /**
   * Judges the answer's head: the number of body bytes to read into `file` (which it opens when
   * needed), or undefined to leave the answer unread (the connection is closed). May throw.
   */
  onHead: (head: Head) => number | undefined;
  /** Send the request, read nothing until `start()`. */
  paused?: boolean;
  /** Longest silence while connecting or receiving (from `start()`). */
  idleMs?: number;
}

/** A GET in flight. */
export interface RawGet {
  /** Body bytes read once all of them are in; undefined when `onHead` left the answer. */
  done: Promise<number | undefined>;
  /** Starts reading a paused GET. */
  start(): void;
  /** Stops it; `done` rejects with `err` (an AbortError by default) unless it settled. */
  destroy(err?: Error): void;
}

/** Sends `GET` and reads its answer as `onHead` decides. Network errors reject `done`. */
export function rawGet(o: RawGetOptions): RawGet {
  let socket: Socket | undefined;
  let settled = false;
  let head: Buffer | undefined = Buffer.alloc(0);
  let length = 0;
  let got = 0;
  let resolveDone!: (n: number | undefined) => void;
  let rejectDone!: (e: Error) => void;
  const done = new Promise<number | undefined>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  const settle = (err: Error | undefined, n?: number) => {
    if (settled) return;
    settled = true;
    socket?.destroy();
    if (err) rejectDone(err);
    else resolveDone(n);
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
    const len = o.onHead(parseHead(all.subarray(0, end).toString('latin1')));
    if (len === undefined) {
      settle(undefined, undefined);
      return -1;
    }
    length = len;
    return end + 4 - seen;
  };
  let started = false;
  const onRead = (n: number, read: Buffer): boolean => {
    if (settled) return false;
    // the first read of a socket lands in the parking buffer it was created with: moved into the
    // ring's current slot, from where it is written and hashed like any other read
    let buf = read;
    if (read !== o.file.slot()) {
      buf = o.file.slot();
      read.copy(buf, 0, 0, n);
    }
    try {
      let from = 0;
      if (head !== undefined) {
        from = readHead(buf, n);
        if (from < 0) return !settled;
      }
      const take = n - from;
      if (got + take > length) throw new Error(`the server sent more than its Content-Length ${length}`);
      const more = o.file.write(buf, from, take);
      got += take;
      if (got === length) {
        // done only once the ring's next slot is free: the next answer read into the same ring
        // must not write into a slot the hash has not read yet
        if (more) settle(undefined, got);
        else o.file.free().then(() => settle(undefined, got), settle);
        return false;
      }
      if (!more) {
        o.file.free().then(() => socket?.resume(), settle);
        return false;
      }
      return true;
    } catch (err) {
      settle(err as Error);
      return false;
    }
  };
  const start = () => {
    if (settled || !socket) return;
    started = true;
    if (o.idleMs !== undefined) {
      const idleMs = o.idleMs;
      socket.setTimeout(idleMs, () =>
        settle(
          Object.assign(new Error(`no data for ${Math.round(idleMs / 1000)} s`), { code: IDLE_TIMEOUT }),
        ),
      );
    }
    socket.resume();
  };
  socket = connect({
    host: o.url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(o.url.port || 80),
    // a ring slot only once it reads: until then the slots belong to the answers before it
    onread: { buffer: () => (started ? o.file.slot() : o.file.parking), callback: onRead },
  });
  // a paused socket reads nothing, not even the head, until its turn
  socket.pause();
  socket.write(o.request);
  socket.on('error', (e) => settle(e));
  socket.on('close', () =>
    settle(
      Object.assign(new Error(`the connection closed after ${got} of ${length || '?'} bytes`), {
        code: SHORT_BODY,
        received: got,
      }),
    ),
  );
  if (!o.paused) start();
  return { done, start, destroy: (err) => settle(err ?? abortError()) };
}
