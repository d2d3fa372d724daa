/**
 * Multipart upload spooling with busboy: the `snapshot` file part is streamed to a temp file
 * (hashed inline, never buffered whole in memory).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { type Ctx, dropConnection } from './context.js';
import { badRequest, drain } from './http-util.js';
import { tempFile } from './snapshot-files.js';

/** A spooled upload. */
export interface Spooled {
  path: string;
  filename: string | undefined;
  size: number;
  sha256: string;
}

/** Thrown when the connection was dropped on purpose (nothing left to answer). */
export class ConnectionDropped extends Error {}

/**
 * Sanitise the multipart file name like Qdrant's `do_save_uploaded_snapshot`: keep only the last
 * path component; a UUID when there is none.
 */
export function sanitizeFilename(name: string | undefined, fallback: string): string {
  const base = name === undefined ? '' : basename(name.replace(/\/+$/, ''));
  return base === '' || base === '.' || base === '..' ? fallback : base;
}

/**
 * Spool the `snapshot` part of a multipart body to a temp file. With `resetAfter` set, the
 * connection is reset after that many request-body bytes (fault injection).
 */
export async function spoolUpload(ctx: Ctx, resetAfter?: number): Promise<Spooled> {
  const { req } = ctx;
  const type = req.headers['content-type'] ?? '';
  if (resetAfter === 0) {
    dropConnection(ctx);
    throw new ConnectionDropped('reset');
  }
  if (!/^multipart\/form-data/i.test(type)) {
    await drain(req);
    throw badRequest(`Content type error: expected multipart/form-data, got "${type}"`);
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, defParamCharset: 'utf8' });
  } catch (e) {
    await drain(req);
    throw badRequest(`Multipart error: ${(e as Error).message}`);
  }
  const tmp = await tempFile(ctx.env.tmpDir, 'upload');
  let file: Promise<Spooled> | undefined;
  let out: WriteStream | undefined;
  try {
    return await new Promise<Spooled>((resolve, reject) => {
      let received = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          received += chunk.length;
          if (resetAfter !== undefined && received >= resetAfter) {
            dropConnection(ctx);
            reject(new ConnectionDropped('reset'));
            cb();
            return;
          }
          cb(null, chunk);
        },
      });
      bb.on('file', (field, stream, info) => {
        if (field !== 'snapshot' || file) {
          stream.resume();
          return;
        }
        const hash = createHash('sha256');
        let size = 0;
        const hasher = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            hash.update(chunk);
            size += chunk.length;
            cb(null, chunk);
          },
        });
        out = createWriteStream(tmp, { mode: 0o644 });
        file = pipeline(stream, hasher, out).then(() => ({
          path: tmp,
          filename: info.filename,
          size,
          sha256: hash.digest('hex'),
        }));
        file.catch(() => {});
      });
      bb.on('close', () => {
        if (!file) reject(badRequest('Multipart error: field `snapshot` is missing'));
        else file.then(resolve, reject);
      });
      bb.on('error', (e) => reject(badRequest(`Multipart error: ${(e as Error).message}`)));
      req.on('close', () => {
        if (!req.complete) {
          bb.destroy();
          reject(new ConnectionDropped('client went away during upload'));
        }
      });
      req.pipe(counter).pipe(bb);
    });
  } catch (e) {
    bb.destroy();
    if (out && !out.closed) {
      const closed = once(out, 'close');
      out.destroy();
      await closed;
    }
    await rm(tmp, { force: true });
    throw e;
  }
}
