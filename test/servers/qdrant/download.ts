/**
 * Snapshot downloads like actix-files NamedFile behind actix `Compress`: streamed from disk,
 * Content-Length, ETag/Last-Modified, single byte ranges (206/416), gzip when the client
 * advertises it (never for `identity` only, never for ranges), plus download faults
 * (slow, reset, truncate, compress).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { type Ctx, dropConnection } from './context.js';
import { sleep } from './http-util.js';

/** Does this Accept-Encoding let the server pick gzip (actix Compress negotiation, gzip only)? */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (name === 'gzip' || name === 'x-gzip') gzip = q;
    else if (name === '*') star = q;
  }
  if (gzip !== undefined) return gzip > 0;
  return star !== undefined && star > 0;
}

function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const m = /^bytes=(\d*)-(\d*)\s*(,.*)?$/.exec(header.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const n = Number(b);
    if (n === 0) return 'invalid';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) return 'invalid';
  return { start, end };
}

/** Stream the file at `path` as the response to a download request. */
export async function serveFile(ctx: Ctx, path: string, name: string): Promise<void> {
  const { req, res, faults } = ctx;
  const st = await stat(path);
  const size = st.size;
  const etag = `"${st.ino.toString(16)}:${size.toString(16)}:${Math.floor(st.mtimeMs / 1000).toString(16)}"`;
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'content-disposition': `attachment; filename="${name}"`,
    'accept-ranges': 'bytes',
    'last-modified': st.mtime.toUTCString(),
    etag,
  };
  let start = 0;
  let end = size - 1;
  let status = 200;
  const rangeHeader = req.headers.range;
  const ifRange = req.headers['if-range'];
  const s3 = ctx.env.snapshotsStorage === 's3';
  if (s3) delete headers['accept-ranges']; // an S3 object stream: chunked, no length, no ranges
  const rangeAllowed =
    !s3 && (ifRange === undefined || ifRange === etag || ifRange === headers['last-modified']);
  if (rangeHeader && rangeAllowed) {
    const r = parseRange(rangeHeader, size);
    if (r === 'invalid') {
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
      res.end();
      return;
    }
    if (r) {
      ({ start, end } = r);
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
  }
  const main = faults.main;
  const gzip = main?.kind === 'compress' || (status === 200 && acceptsGzip(req.headers['accept-encoding']));
  if (gzip) {
    headers['content-encoding'] = 'gzip';
    headers.vary = 'accept-encoding';
  } else if (!s3) {
    headers['content-length'] = end - start + 1;
  }
  const delayMs = faults.slow?.delayMs ?? 0;
  const cutAfter =
    main?.kind === 'reset' ? (main.afterBytes ?? 0) : main?.kind === 'truncate' ? main.afterBytes : -1;
  res.writeHead(status, headers);
  if (cutAfter === 0) return cut(ctx, main?.kind === 'reset');
  const file = size === 0 ? undefined : createReadStream(path, { start, end, highWaterMark: 64 * 1024 });
  let source: Readable | undefined = file;
  if (gzip) {
    const z = createGzip();
    if (file) file.pipe(z);
    else z.end();
    file?.on('error', (e) => z.destroy(e));
    source = z;
  }
  let sent = 0;
  let closed = false;
  res.on('close', () => {
    closed = true;
  });
  try {
    for await (const raw of source ?? []) {
      let chunk = raw as Buffer;
      if (closed) break;
      if (delayMs > 0) await sleep(delayMs);
      if (cutAfter >= 0 && sent + chunk.length >= cutAfter) {
        chunk = chunk.subarray(0, cutAfter - sent);
        await new Promise<void>((r) => res.write(chunk, () => r()));
        return cut(ctx, main?.kind === 'reset');
      }
      sent += chunk.length;
      if (!res.write(chunk)) await drained(res);
    }
  } finally {
    file?.destroy();
    source?.destroy();
  }
  if (cutAfter >= 0) return cut(ctx, main?.kind === 'reset');
  if (!closed) res.end();
}

/** Wait for 'drain' or 'close', removing both listeners afterwards. */
function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** End the body early: `reset` = RST the connection, `truncate` = close it gracefully (FIN). */
function cut(ctx: Ctx, reset: boolean): void {
  if (reset) {
    dropConnection(ctx, true);
    return;
  }
  const socket = ctx.res.socket;
  ctx.res.flushHeaders();
  if (socket) socket.end();
  else dropConnection(ctx, false);
}
