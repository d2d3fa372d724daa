/**
 * One HTTP/1.1 GET over a raw socket (`net.connect({ onread })`, or `tls.connect({ onread })` for
 * `https:`), its answer read straight into a ring file's slots (ring-file.ts): no parser, no Buffer
 * per read, no stream plumbing (node:http's receiving cost 3× the CPU of this, bench/FINDINGS.md).
 * Only the head is parsed here; the caller judges it and says how many body bytes to take, or
 * leaves the answer to its ordinary client. Every request says `Connection: close`: one answer
 * per socket.
 *
 * `https:` is checked as node:https checks it: the system's CAs plus NODE_EXTRA_CA_CERTS, the
 * certificate's name against the URL's host (SNI for a host name). Node copies each decrypted
 * record (≤ 16 KiB) into the buffer `onread` hands it: the ring's slot.
 *
 * A GET may be sent `paused`: the request goes out but nothing is read until `start()`, so the
 * answer waits in the kernel's socket buffers and TCP's window (bounded, and not qnb's memory)
 * while the answers before it are read into the same ring. Over TLS the handshake must be read
 * first: the request is sent, and the socket paused, once it is done (a TLS socket paused before
 * its handshake reads everything anyway, measured on Node 20).
 */
import { connect, isIP, type OnReadOpts, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
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
  const tls = o.url.protocol === 'https:';
  // Over TCP a read is as large as the kernel has (up to a slot) and is handed on at once. Over TLS
  // a read is one record (≤ 16 KiB): reads are gathered in the current slot, body bytes
  // [bodyAt, fill), and the slot is handed on when full or at the answer's end.
  let fill = 0;
  let bodyAt = 0;
  /** The ring memory the next read goes into (undefined: the parking buffer). */
  let given: Buffer | undefined;
  /** Waiting for the ring's next slot; over TLS, reads still come (what OpenSSL had decrypted). */
  let waiting = false;
  /** Body bytes read outside the ring (the parking buffer, or while waiting), copied, in order. */
  const pending: Buffer[] = [];
  const nextBuffer = (): Buffer => {
    // a ring slot only once it reads: until then the slots belong to the answers before it
    if (!started || (waiting && tls)) {
      given = undefined;
      return o.file.parking;
    }
    const slot = o.file.slot();
    given = fill === 0 ? slot : slot.subarray(fill);
    return given;
  };
  /** Hands [bodyAt, fill) of the current slot to the file; false when the next slot is not free. */
  const commit = (): boolean => {
    const from = bodyAt;
    const n = fill - bodyAt;
    fill = 0;
    bodyAt = 0;
    return o.file.write(o.file.slot(), from, n);
  };
  /** Copies pending bytes into the ring; false when it filled before they were all in. */
  const pour = (): boolean => {
    while (pending.length > 0) {
      const src = pending[0] as Buffer;
      const slot = o.file.slot();
      const c = Math.min(slot.length - fill, src.length);
      src.copy(slot, fill, 0, c);
      fill += c;
      if (c === src.length) pending.shift();
      else pending[0] = src.subarray(c);
      if (fill === slot.length && !commit()) return false;
    }
    return true;
  };
  /** Hands the slot on when it is due; settles once the body is in. False: read nothing now. */
  const advance = (): boolean => {
    const complete = got === length;
    if (fill === bodyAt) fill = bodyAt = 0;
    if (fill > bodyAt && (!tls || complete || fill === o.file.slot().length) && !commit()) return wait();
    if (complete) {
      // done only once the ring's next slot is free (above): the next answer read into the same
      // ring must not write into a slot the hash has not read yet
      settle(undefined, got);
      return false;
    }
    return true;
  };
  const wait = (): false => {
    waiting = true;
    o.file.free().then(() => {
      waiting = false;
      if (settled) return;
      // a commit here may throw as in onRead (a damaged chunk of an encrypted copy, a failed hash)
      try {
        if (!pour()) wait();
        else if (advance()) socket?.resume();
      } catch (err) {
        settle(err as Error);
      }
    }, settle);
    return false;
  };
  const onRead = (n: number, read: Buffer): boolean => {
    if (settled) return false;
    const inRing = given !== undefined && read === given;
    try {
      let at = 0;
      if (head !== undefined) {
        at = readHead(read, n);
        if (at < 0) return !settled;
      }
      const take = n - at;
      if (got + take > length) throw new Error(`the server sent more than its Content-Length ${length}`);
      got += take;
      if (inRing) {
        // already in the slot at `fill`; a head only comes first in an answer, when nothing waits
        if (at > 0) bodyAt = fill + at;
        fill += n;
        return advance();
      }
      // the first read of a socket lands in the parking buffer it was created with, and over
      // TLS the reads that come while waiting: copied, then into the ring like any other read
      pending.push(Buffer.from(read.subarray(at, n)));
      if (waiting) return false;
      return pour() ? advance() : wait();
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
  const host = o.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const onread: OnReadOpts = { buffer: nextBuffer, callback: onRead };
  if (tls) {
    const secure = tlsConnect({
      host,
      port: Number(o.url.port || 443),
      ...(isIP(host) ? {} : { servername: host }),
      onread,
    } as ConnectionOptions);
    socket = secure;
    secure.once('secureConnect', () => {
      // no answer before the request: paused here, it reads nothing until its turn
      if (!started) secure.pause();
      secure.write(o.request);
    });
  } else {
    socket = connect({ host, port: Number(o.url.port || 80), onread });
    // a paused socket reads nothing, not even the head, until its turn
    socket.pause();
    socket.write(o.request);
  }
  socket.on('error', (e) => settle(e));
  socket.on('close', () => {
    // every body byte read (over TLS the close can come while the last ones wait for the ring):
    // the wait settles it
    if (head === undefined && got === length && waiting) return;
    settle(
      Object.assign(new Error(`the connection closed after ${got} of ${length || '?'} bytes`), {
        code: SHORT_BODY,
        received: got,
      }),
    );
  });
  if (!o.paused) start();
  return { done, start, destroy: (err) => settle(err ?? abortError()) };
}
