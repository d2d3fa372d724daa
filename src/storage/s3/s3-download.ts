/**
 * Download of one object as ranged GETs in parallel, the bytes given out in order, with bounded
 * memory: at most `concurrency` requests are open at once, whatever the object's size. The range
 * in its turn streams straight through to the reader; the later ones wait with their bodies unread,
 * held by the kernel's socket buffers and TCP's window rather than in qnb's memory (reading them
 * ahead into buffers cost ~45 MB more peak RSS on a 1 GiB restore, and the garbage collector's time
 * for pieces that lived long enough to be promoted, bench/FINDINGS.md). The first request asks for the first range; its Content-Range tells the object's size and
 * its ETag pins the version: every later range is asked `If-Match` that ETag, so an object replaced
 * while qnb reads it fails (412) instead of mixing two versions. Each range must be exactly the
 * bytes asked for. A failed range fails the stream with an error naming the object and the range;
 * nothing is trusted anyway before the reader checked the whole object's size and sha256 (the
 * callers do, as for any backend).
 */
import { Readable } from 'node:stream';
import type { GetObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
import { QnbError } from '../../core/errors.js';

type Sdk = typeof import('@aws-sdk/client-s3');

/** One ranged download. */
export interface RangedGet {
  sdk: Sdk;
  client: S3Client;
  bucket: string;
  /** Full object key. */
  key: string;
  /** For messages. */
  shownKey: string;
  rangeSize: number;
  concurrency: number;
  signal?: AbortSignal;
  /** Turns a failure of a later range into the backend's error (the first GET's is the caller's). */
  wrap: (e: unknown) => Error;
}

/** `bytes 0-8388607/2147483648` → 2147483648 (undefined when absent or unknown). */
function totalOf(contentRange: string | undefined): number | undefined {
  const m = /\/(\d+)\s*$/.exec(contentRange ?? '');
  return m ? Number(m[1]) : undefined;
}

/**
 * The object's bytes as a stream. Throws what the first GET throws (not found, denied); later
 * failures fail the stream. An empty object, or a server that ignores Range, is read as one GET.
 */
export async function getRanged(spec: RangedGet, plainGet: () => Promise<Readable>): Promise<Readable> {
  const { sdk, client, bucket, key, rangeSize } = spec;
  let first: GetObjectCommandOutput;
  try {
    first = await client.send(
      new sdk.GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=0-${rangeSize - 1}` }),
      { abortSignal: spec.signal },
    );
  } catch (e) {
    // an empty object has no byte 0: 416 InvalidRange
    if ((e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 416)
      return plainGet();
    throw e;
  }
  const total = totalOf(first.ContentRange);
  // the server sent the whole object (no Content-Range), or it fits in the first range
  if (total === undefined || total <= rangeSize) return first.Body as Readable;
  const etag = first.ETag;
  if (!etag) {
    (first.Body as Readable).destroy();
    return plainGet();
  }
  const out = Readable.from(ranges(spec, first, total, etag), { objectMode: false, highWaterMark: 0 });
  // a reader that stops before it read anything never starts the generator: the first response's
  // connection is released here too
  out.once('close', () => (first.Body as Readable).destroy());
  return out;
}

/** A range asked for, its response headers in. */
interface Pending {
  start: number;
  end: number;
  body: Readable;
}

async function* ranges(
  spec: RangedGet,
  first: GetObjectCommandOutput,
  total: number,
  etag: string,
): AsyncGenerator<Buffer> {
  const { sdk, client, bucket, key, rangeSize } = spec;
  // requests in flight stop together: when one fails, when the reader stops, on the caller's abort
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  const what = (start: number, end: number) => `${spec.shownKey}: bytes ${start}–${end}`;
  const classify = (e: unknown, start: number, end: number): Error => {
    if (e instanceof QnbError || spec.signal?.aborted) return spec.wrap(e);
    const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 412)
      return new QnbError('E_SERVER', `${what(start, end)}: the object was replaced while qnb read it`, {
        hint: 'run the command again',
        retryable: true,
      });
    return spec.wrap(e);
  };
  /** Every body asked for, until it is read or destroyed. */
  const bodies = new Set<Readable>();
  const hold = (body: Readable) => {
    bodies.add(body);
    // a body waiting its turn that breaks is reported when its turn comes (the iterator throws
    // the stored error); until then the error must not go unhandled
    body.on('error', () => {});
    body.once('close', () => bodies.delete(body));
    return body;
  };
  /** One range's response; the first one's is already there. Its body is read in its turn. */
  const ask = async (start: number): Promise<Pending> => {
    const end = Math.min(start + rangeSize, total) - 1;
    try {
      const r = await client.send(
        new sdk.GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: etag }),
        { abortSignal: inner.signal },
      );
      const body = hold(r.Body as Readable);
      if (totalOf(r.ContentRange) !== total)
        throw new QnbError('E_SERVER', `${what(start, end)}: the object changed size while qnb read it`);
      return { start, end, body };
    } catch (e) {
      throw classify(e, start, end);
    }
  };
  const queue: Promise<Pending>[] = [];
  const watch = (p: Promise<Pending>) => {
    // failures are awaited in order below; this only keeps them from counting as unhandled
    p.catch(() => {});
    queue.push(p);
  };
  let next = 0;
  const fill = () => {
    while (queue.length < spec.concurrency && next < total) {
      const start = next;
      next = Math.min(next + rangeSize, total);
      watch(ask(start));
    }
  };
  try {
    inner.signal.addEventListener('abort', () => {
      for (const b of bodies) b.destroy();
    });
    watch(Promise.resolve({ start: 0, end: rangeSize - 1, body: hold(first.Body as Readable) }));
    next = rangeSize;
    fill();
    while (queue.length) {
      const { start, end, body } = await queue.shift()!;
      // the range in its turn streams straight through: its pieces die young, and the later
      // ranges wait in their sockets (the kernel's buffers and TCP's window, not qnb's memory)
      const want = end - start + 1;
      let got = 0;
      try {
        for await (const chunk of body) {
          got += (chunk as Buffer).length;
          if (got > want)
            throw new QnbError(
              'E_SERVER',
              `${what(start, end)}: the server sent more bytes than the range asked`,
            );
          yield chunk as Buffer;
        }
        if (got !== want)
          throw new QnbError(
            'E_SERVER',
            `${what(start, end)}: the server sent ${got} of ${want} bytes, then stopped`,
            {
              retryable: true,
            },
          );
      } catch (e) {
        throw classify(e, start, end);
      }
      // the next range is asked once this one is read: `concurrency` requests at most, this one's
      // included
      fill();
    }
  } finally {
    inner.abort();
    await Promise.allSettled(queue);
    for (const b of bodies) b.destroy();
    spec.signal?.removeEventListener('abort', onAbort);
  }
}
