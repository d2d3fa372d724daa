/**
 * Bench-local experiments on qnb's download path (src/ is not changed): copies of
 * `downloadSnapshot` + `streamToFile` with knobs, to find what limits throughput and what a fix
 * would gain. Every variant writes the same bytes to a new file and (unless `nohash`) hashes them
 * inline, like qnb.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, fdatasync } from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Agent, request } from 'undici';
import { createQdrantApi } from '../../src/targets/qdrant/qdrant-api.js';
import { hashingFileWriter } from './worker-writer.js';

type Result = { bytes: number; sha256: string; bodyEndMs?: number };
export type Variant = (url: string, collection: string, snapshot: string, out: string) => Promise<Result>;

/** Knobs of a variant. */
interface Knobs {
  /** HTTP client: undici `request` (what qnb uses) or node:http. */
  client: 'undici' | 'http';
  /** highWaterMark of the hashing Transform and the WriteStream; undefined = Node's default (16 KiB). */
  hwm?: number;
  /** fsync before close (`flush: true`, what qnb does). */
  flush: boolean;
  /** Hash with sha256. */
  hash: boolean;
  /** Start an fdatasync in the background every this many bytes (0 = never). */
  syncEvery: number;
}

const snapshotUrl = (url: string, collection: string, snapshot: string) =>
  `${url}/collections/${encodeURIComponent(collection)}/snapshots/${encodeURIComponent(snapshot)}`;

async function open(k: Knobs, target: string): Promise<{ body: Readable; close(): Promise<void> }> {
  if (k.client === 'undici') {
    const agent = new Agent({ headersTimeout: 0, bodyTimeout: 300_000 });
    const res = await request(target, {
      method: 'GET',
      dispatcher: agent,
      headers: { 'accept-encoding': 'identity' },
    });
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${await res.body.text()}`);
    return { body: res.body, close: () => agent.close() };
  }
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http
      .get(target, { headers: { 'accept-encoding': 'identity' }, agent: false }, resolve)
      .on('error', reject);
  });
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`);
  return { body: res, close: async () => {} };
}

function build(k: Knobs): Variant {
  return async (url, collection, snapshot, out) => {
    const src = await open(k, snapshotUrl(url, collection, snapshot));
    const hash = createHash('sha256');
    let bytes = 0;
    let synced = 0;
    let syncing = false;
    const file = createWriteStream(out, {
      flags: 'wx',
      mode: 0o600,
      flush: k.flush,
      ...(k.hwm === undefined ? {} : { highWaterMark: k.hwm }),
    });
    const counter = new Transform({
      ...(k.hwm === undefined ? {} : { highWaterMark: k.hwm }),
      transform(chunk: Buffer, _enc, cb) {
        if (k.hash) hash.update(chunk);
        bytes += chunk.length;
        const fd = (file as unknown as { fd: number | null }).fd;
        if (k.syncEvery > 0 && !syncing && bytes - synced >= k.syncEvery && typeof fd === 'number') {
          syncing = true;
          synced = bytes;
          fdatasync(fd, () => {
            syncing = false;
          });
        }
        cb(null, chunk);
      },
    });
    try {
      await pipeline(src.body, counter, file);
    } finally {
      await src.close();
    }
    return { bytes, sha256: k.hash ? hash.digest('hex') : '' };
  };
}

/**
 * No stream stages: iterate the body, hash each chunk, gather chunks into batches of `batch`
 * bytes and write each batch with one writev while the next batch is gathered (one write in
 * flight at a time); fsync at the end.
 */
function batched(client: Knobs['client'], batch: number): Variant {
  return async (url, collection, snapshot, out) => {
    const src = await open({ ...base, client }, snapshotUrl(url, collection, snapshot));
    const fh = await openFile(out, 'wx', 0o600);
    const hash = createHash('sha256');
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let inFlight: Promise<unknown> = Promise.resolve();
    try {
      for await (const chunk of src.body as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= batch) {
          await inFlight;
          inFlight = fh.writev(pending);
          pending = [];
          pendingBytes = 0;
        }
      }
      await inFlight;
      if (pending.length) await fh.writev(pending);
      await fh.sync();
    } finally {
      await fh.close();
      await src.close();
    }
    return { bytes, sha256: hash.digest('hex') };
  };
}

/** Only receive: the body is consumed and dropped (no hash, no file) — the HTTP client's own cost. */
function discard(client: Knobs['client']): Variant {
  return async (url, collection, snapshot) => {
    const src = await open({ ...base, client }, snapshotUrl(url, collection, snapshot));
    let bytes = 0;
    try {
      for await (const chunk of src.body as AsyncIterable<Buffer>) bytes += chunk.length;
    } finally {
      await src.close();
    }
    return { bytes, sha256: '' };
  };
}

/** qnb's api.downloadSnapshot (node:http, as `exact`) into a file opened like streamToFile does. */
async function qnbBody(url: string, collection: string, snapshot: string) {
  const api = createQdrantApi({ url });
  const dl = await api.downloadSnapshot(collection, snapshot);
  return { body: dl.body, close: () => api.close() };
}

/**
 * streamToFile before issue 14: sha256 on the receiving thread ('data' listener), a 1 MiB
 * WriteStream (writes on the libuv pool), one fsync at the end (`flush: true`).
 */
function inline(syncEvery = 0): Variant {
  return async (url, collection, snapshot, out) => {
    const t0 = performance.now();
    const src = await qnbBody(url, collection, snapshot);
    const hash = createHash('sha256');
    let bytes = 0;
    const file = createWriteStream(out, { flags: 'wx', mode: 0o600, flush: true, highWaterMark: 1 << 20 });
    let unsynced = 0;
    let syncing = false;
    src.body.on('data', (c: Buffer) => {
      hash.update(c);
      bytes += c.length;
      unsynced += c.length;
      const fd = (file as unknown as { fd: number | null }).fd;
      if (syncEvery > 0 && unsynced >= syncEvery && !syncing && typeof fd === 'number') {
        syncing = true;
        unsynced = 0;
        fdatasync(fd, () => {
          syncing = false;
        });
      }
    });
    let bodyEndMs: number | undefined;
    src.body.once('end', () => {
      bodyEndMs = performance.now() - t0;
    });
    try {
      await pipeline(src.body, file);
    } finally {
      await src.close();
    }
    return { bytes, sha256: hash.digest('hex'), ...(bodyEndMs === undefined ? {} : { bodyEndMs }) };
  };
}

/** streamToFile's worker writer (hash-writer.ts) with another background-sync interval (0 = none). */
function worker(syncEvery: number, pool?: number): Variant {
  return async (url, collection, snapshot, out) => {
    const t0 = performance.now();
    const src = await qnbBody(url, collection, snapshot);
    const fh = await openFile(out, 'wx', 0o600);
    const w = hashingFileWriter(fh.fd, () => {}, syncEvery, pool);
    let bodyEndMs: number | undefined;
    src.body.once('end', () => {
      bodyEndMs = performance.now() - t0;
    });
    try {
      await pipeline(src.body, w);
    } finally {
      await w.stop();
      await fh.close();
      await src.close();
    }
    return { ...w.result(), ...(bodyEndMs === undefined ? {} : { bodyEndMs }) };
  };
}

/** Parses the head off the first read of a raw GET; [body offset, content length]. */
function rawHead(buf: Uint8Array, n: number): [number, number] {
  const b = Buffer.from(buf.buffer, buf.byteOffset, n);
  const end = b.indexOf('\r\n\r\n');
  const m = /content-length: *(\d+)/i.exec(b.subarray(0, end).toString('latin1'));
  if (end < 0 || !m) throw new Error('raw GET: no head with a Content-Length in the first read');
  return [end + 4, Number(m[1])];
}

/** A raw GET on a socket reading into `buffer()`; `onBody(buf, from, n)` per read; resolves the byte count. */
function rawGet(
  target: string,
  buffer: () => Buffer,
  onBody: (buf: Uint8Array, from: number, n: number) => boolean | Promise<void>,
): Promise<number> {
  const u = new URL(target);
  return new Promise((resolve, reject) => {
    let length = -1;
    let bytes = 0;
    const s = net.connect({
      host: u.hostname,
      port: Number(u.port),
      onread: {
        buffer,
        callback(n, buf) {
          let from = 0;
          if (length < 0) [from, length] = rawHead(buf, n);
          bytes += n - from;
          const more = onBody(buf, from, n - from);
          if (bytes >= length) {
            s.destroy();
            resolve(bytes);
            return false;
          }
          if (more instanceof Promise) {
            more.then(() => s.resume(), reject);
            return false;
          }
          return more;
        },
      },
    });
    s.on('connect', () =>
      s.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`),
    );
    s.on('error', reject);
  });
}

/** Socket read into one reused 1 MiB buffer, bytes dropped: the receive cost without node:http. */
const rawDiscard: Variant = async (url, collection, snapshot) => {
  const buf = Buffer.allocUnsafe(1 << 20);
  const bytes = await rawGet(
    snapshotUrl(url, collection, snapshot),
    () => buf,
    () => true,
  );
  return { bytes, sha256: '' };
};

const base: Knobs = { client: 'undici', flush: true, hash: true, syncEvery: 0 };

/** Variants by name (`exact` itself runs qnb's real code in qnb-download.ts). */
export const DOWNLOAD_VARIANTS: Record<string, Variant> = {
  /** streamToFile before issue 14 (hash on the receiving thread, one fsync at the end). */
  inline: inline(),
  /** inline + a background fdatasync every 32 MiB (no worker). */
  'inline-sync32m': inline(32 << 20),
  /** The worker writer without background flushing: one fsync of everything at the end. */
  'worker-nosync': worker(0),
  /** The worker writer flushing every 8 MiB / 128 MiB (qnb: SYNC_EVERY, 32 MiB). */
  'worker-sync8m': worker(8 << 20),
  'worker-sync128m': worker(128 << 20),
  /** The worker writer with 32 × 1 MiB buffers instead of 8. */
  'worker-pool32': worker(32 << 20, 32),
  /** A copy of exact (undici, default highWaterMark, flush) — checks the copy matches qnb. */
  copy: build(base),
  /** No fsync (what curl does). */
  nofsync: build({ ...base, flush: false }),
  /** No sha256. */
  nohash: build({ ...base, hash: false }),
  /** 1 MiB highWaterMark on the hashing Transform and the WriteStream. */
  hwm1m: build({ ...base, hwm: 1 << 20 }),
  /** hwm1m + a background fdatasync every 64 MiB, so the final fsync has little left to do. */
  'hwm1m-sync64m': build({ ...base, hwm: 1 << 20, syncEvery: 64 << 20 }),
  /** hwm1m without fsync: the ceiling of the hashing pipeline. */
  'hwm1m-nofsync': build({ ...base, hwm: 1 << 20, flush: false }),
  /** node:http instead of undici, with hwm1m. */
  'http-hwm1m': build({ ...base, client: 'http', hwm: 1 << 20 }),
  /** node:http, hwm1m, background fdatasync every 64 MiB. */
  'http-hwm1m-sync64m': build({ ...base, client: 'http', hwm: 1 << 20, syncEvery: 64 << 20 }),
  /** undici: receive and drop the body (what the HTTP client alone costs). */
  discard: discard('undici'),
  /** node:http: receive and drop the body. */
  'http-discard': discard('http'),
  /** Socket read into one 1 MiB buffer, dropped (no node:http). */
  'raw-discard': rawDiscard,
  /** undici body iterated directly, hashed, written in 1 MiB writev batches; fsync at the end. */
  batch1m: batched('undici', 1 << 20),
  /** node:http body iterated directly, hashed, written in 1 MiB writev batches; fsync at the end. */
  'http-batch1m': batched('http', 1 << 20),
};
