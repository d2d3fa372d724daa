/**
 * Download of one object as ranged GETs in parallel, the bytes given out in order, with bounded
 * memory: at most `concurrency` ranges of `rangeSize` bytes are held at once, whatever the object's
 * size. The first request asks for the first range; its Content-Range tells the object's size and
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

/**
 * Reads a response body whole, as the pieces it arrived in (no copy into one buffer), checking it
 * is exactly `want` bytes.
 */
async function readBody(body: unknown, want: number, what: string): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  let fill = 0;
  for await (const raw of body as AsyncIterable<Buffer>) {
    if (fill + raw.length > want)
      throw new QnbError('E_SERVER', `${what}: the server sent more bytes than the range asked`);
    pieces.push(raw);
    fill += raw.length;
  }
  if (fill !== want)
    throw new QnbError('E_SERVER', `${what}: the server sent ${fill} of ${want} bytes, then stopped`, {
      retryable: true,
    });
  return pieces;
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
  let failure: Error | undefined;
  const what = (start: number, end: number) => `${spec.shownKey}: bytes ${start}–${end}`;
  /** One range; the first one's response is already there. */
  const fetchRange = async (start: number, got?: GetObjectCommandOutput): Promise<Buffer[]> => {
    const end = Math.min(start + rangeSize, total) - 1;
    try {
      const r =
        got ??
        (await client.send(
          new sdk.GetObjectCommand({
            Bucket: bucket,
            Key: key,
            Range: `bytes=${start}-${end}`,
            IfMatch: etag,
          }),
          { abortSignal: inner.signal },
        ));
      if (totalOf(r.ContentRange) !== total)
        throw new QnbError('E_SERVER', `${what(start, end)}: the object changed size while qnb read it`);
      return await readBody(r.Body, end - start + 1, what(start, end));
    } catch (e) {
      // the first failure is the one to report: the requests it cuts off fail with an abort
      if (!inner.signal.aborted) failure ??= classify(e, start, end);
      inner.abort();
      throw failure ?? classify(e, start, end);
    }
  };
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
  const queue: Promise<Buffer[]>[] = [];
  const watch = (p: Promise<Buffer[]>) => {
    // failures are awaited in order below; this only keeps them from counting as unhandled
    p.catch(() => {});
    queue.push(p);
  };
  let next = 0;
  const fill = () => {
    while (queue.length < spec.concurrency && next < total) {
      const start = next;
      next = Math.min(next + rangeSize, total);
      watch(fetchRange(start));
    }
  };
  try {
    // the first response was asked without `inner`: it stops with the others
    inner.signal.addEventListener('abort', () => (first.Body as Readable).destroy(), { once: true });
    watch(fetchRange(0, first));
    next = rangeSize;
    fill();
    while (queue.length) {
      const pieces = await queue.shift()!;
      fill();
      yield* pieces;
    }
  } finally {
    inner.abort();
    await Promise.allSettled(queue);
    spec.signal?.removeEventListener('abort', onAbort);
  }
}
