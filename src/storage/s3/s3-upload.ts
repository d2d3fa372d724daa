/**
 * Streaming upload with bounded memory and proof at every step:
 * - qnb hashes the whole stream (sha256) while reading it and compares with the promised hash
 *   before it completes the upload, so wrong local bytes never become an object;
 * - every request carries the body's sha256 as its SigV4 signed payload hash (x-amz-content-sha256,
 *   which S3 servers check, answering XAmzContentSHA256Mismatch — seen with versitygw and Ceph
 *   radosgw) and the same digest as x-amz-checksum-sha256 (which AWS needs on Object Lock buckets:
 *   "Content-MD5 OR x-amz-checksum- HTTP header is required"; Ceph Pacific ignores it, versitygw
 *   spent no measurable CPU on it). No Content-MD5: MD5 proves nothing sha256 does not, and it
 *   cost the client an MD5 of every byte (~0.8 GB/s here) and versitygw an MD5 check of every
 *   byte (bench/FINDINGS.md);
 * - a multipart upload is invisible until CompleteMultipartUpload, so an interrupted upload leaves
 *   no object; on failure or abort qnb aborts the upload, and leftovers of a killed process are
 *   aborted by the next put of the same key;
 * - a part request the client gives up on may still be stored by the server after the upload was
 *   aborted (the server has its bytes; versitygw then brings the upload back, and AWS documents
 *   the same: "it might be necessary to abort a given multipart upload multiple times"). So on the
 *   caller's abort the parts on the wire get a short grace to finish before they are cut off, the
 *   upload is aborted only after every part request is over, and when one had to be cut off qnb
 *   looks again and aborts once more whatever came back.
 * Memory: at most (concurrency + 1) × part size of buffers.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { InterruptedError, QnbError } from '../../core/errors.js';
import { checkStreamed } from '../backend.js';

type Sdk = typeof import('@aws-sdk/client-s3');

/** Metadata key holding the object's sha256 (hex), read back by stat(). */
export const SHA256_META = 'qnb-sha256';

/** One upload. */
export interface UploadSpec {
  sdk: Sdk;
  client: S3Client;
  bucket: string;
  /** Full object key (with prefix). */
  key: string;
  /** Key for messages (without prefix). */
  shownKey: string;
  body: Readable;
  size: number;
  sha256: string;
  partSize: number;
  concurrency: number;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/**
 * A request's checksums from one sha256 of its body: the SigV4 payload hash (hex) and the same
 * digest as `x-amz-checksum-sha256` (base64), which S3 requires on buckets with Object Lock
 * ("Content-MD5 OR x-amz-checksum- HTTP header is required").
 */
function checksums(b: Buffer): { payloadHash: string; ChecksumSHA256: string } {
  const digest = createHash('sha256').update(b).digest();
  return { payloadHash: digest.toString('hex'), ChecksumSHA256: digest.toString('base64') };
}

type Middleware = (
  next: (args: unknown) => Promise<unknown>,
) => (args: { request: { headers: Record<string, string> } }) => Promise<unknown>;

/**
 * Sends the body's real sha256 as `x-amz-content-sha256`: the SDK signs it instead of hashing the
 * body again, and the server checks the body against it (SigV4 signed payload).
 */
function withPayloadHash<C>(cmd: C, hex: string): C {
  const stack = (
    cmd as { middlewareStack: { add(mw: Middleware, opts: { step: string; name: string }): void } }
  ).middlewareStack;
  stack.add(
    (next) => async (args) => {
      args.request.headers['x-amz-content-sha256'] = hex;
      return next(args);
    },
    { step: 'build', name: 'qnbPayloadHash' },
  );
  return cmd;
}

/**
 * Yields the stream in buffers of exactly `size` bytes (the last may be shorter), hashing as it
 * reads. Buffers come from `alloc`, so the caller can hand finished ones back: a pool keeps memory
 * bounded without waiting for the garbage collector.
 */
async function* partsOf(
  body: Readable,
  size: number,
  onBytes: (chunk: Buffer) => void,
  alloc: () => Buffer = () => Buffer.allocUnsafe(size),
): AsyncGenerator<Buffer> {
  let buf = alloc();
  let fill = 0;
  for await (const raw of body) {
    const chunk = raw as Buffer;
    onBytes(chunk);
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(size - fill, chunk.length - off);
      chunk.copy(buf, fill, off, off + n);
      fill += n;
      off += n;
      if (fill === size) {
        yield buf;
        buf = alloc();
        fill = 0;
      }
    }
  }
  if (fill > 0) yield buf.subarray(0, fill);
}

/** Uploads a stream; resolves when the object is complete and verified. */
export async function uploadObject(spec: UploadSpec): Promise<void> {
  const hash = createHash('sha256');
  let bytes = 0;
  let lastReport = 0;
  const onBytes = (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    const now = Date.now();
    if (spec.onProgress && now - lastReport >= 200) {
      lastReport = now;
      spec.onProgress(bytes);
    }
  };
  const where = `copy ${spec.shownKey}`;
  const finalCheck = () => {
    spec.onProgress?.(bytes);
    checkStreamed(where, { bytes, sha256: hash.digest('hex') }, spec);
  };
  if (spec.size <= spec.partSize) {
    // one request; read it whole (≤ one part) so the hash is checked before anything is sent
    const parts: Buffer[] = [];
    for await (const p of partsOf(spec.body, Math.max(spec.size, 1), onBytes)) parts.push(p);
    const data = Buffer.concat(parts);
    finalCheck();
    const { payloadHash, ...sums } = checksums(data);
    const put = new spec.sdk.PutObjectCommand({
      Bucket: spec.bucket,
      Key: spec.key,
      Body: data,
      ContentLength: data.length,
      ...sums,
      Metadata: { [SHA256_META]: spec.sha256 },
    });
    await spec.client.send(withPayloadHash(put, payloadHash), { abortSignal: spec.signal });
    return;
  }
  await multipart(spec, onBytes, finalCheck);
}

async function multipart(
  spec: UploadSpec,
  onBytes: (c: Buffer) => void,
  finalCheck: () => void,
): Promise<void> {
  const { sdk, client, bucket, key } = spec;
  // not cut short by the caller's signal: an abort while this request is on the wire would leave
  // an upload on the server whose id qnb never learnt (and so could not abort); the check for an
  // abort comes first thing in the try below, which aborts the upload it now knows
  const created = await client.send(
    new sdk.CreateMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      // the parts carry x-amz-checksum-sha256: S3 wants the algorithm declared up front
      ChecksumAlgorithm: 'SHA256',
      Metadata: { [SHA256_META]: spec.sha256 },
    }),
  );
  const uploadId = created.UploadId;
  if (!uploadId)
    throw new QnbError('E_SERVER', `${key}: the server started a multipart upload without an id`);
  // parts in flight stop together when one of them fails; on the caller's abort they get
  // PART_GRACE_MS to finish first: a part cut off after its bytes reached the server may still be
  // stored there after the upload is aborted (see the top of this file)
  const inner = new AbortController();
  let graceTimer: NodeJS.Timeout | undefined;
  const onAbort = () => {
    graceTimer = setTimeout(() => inner.abort(), PART_GRACE_MS);
  };
  spec.signal?.addEventListener('abort', onAbort, { once: true });
  const done: { PartNumber: number; ETag: string; ChecksumSHA256: string }[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  /** A part request was cut off: the server may still store it (see abortUpload). */
  let cutOff = false;
  try {
    spec.signal?.throwIfAborted();
    let n = 0;
    const pool: Buffer[] = [];
    const alloc = () => pool.pop() ?? Buffer.allocUnsafe(spec.partSize);
    for await (const part of partsOf(spec.body, spec.partSize, onBytes, alloc)) {
      // no new part after the caller's abort (the parts on the wire may still finish)
      if (spec.signal?.aborted) break;
      const partNumber = ++n;
      const { payloadHash, ...sums } = checksums(part);
      const cmd = new sdk.UploadPartCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: partNumber,
        Body: part,
        ContentLength: part.length,
        ...sums,
      });
      const p = client
        .send(withPayloadHash(cmd, payloadHash), { abortSignal: inner.signal })
        .then((r) => {
          done.push({ PartNumber: partNumber, ETag: r.ETag ?? '', ChecksumSHA256: sums.ChecksumSHA256 });
          // the request is over: its buffer can hold a later part
          if (part.length === spec.partSize) pool.push(part);
        })
        .catch((err) => {
          if (inner.signal.aborted) cutOff = true;
          failure ??= err;
          inner.abort();
        })
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (inFlight.size >= spec.concurrency) await Promise.race(inFlight);
      if (failure || inner.signal.aborted || spec.signal?.aborted) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    spec.signal?.throwIfAborted();
    finalCheck();
    done.sort((a, b) => a.PartNumber - b.PartNumber);
    await client.send(
      new sdk.CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: done },
      }),
      { abortSignal: spec.signal },
    );
  } catch (err) {
    spec.body.destroy();
    // on the caller's abort the parts on the wire may finish within the grace (the timer cuts off
    // the rest); on any other failure they stop now
    if (!spec.signal?.aborted) inner.abort();
    await Promise.allSettled(inFlight);
    // no part request runs any more: best effort, without the caller's signal, so that an
    // interrupted copy leaves no parts behind
    await abortUpload(spec, uploadId, cutOff);
    if (spec.signal?.aborted) throw new InterruptedError();
    throw err;
  } finally {
    clearTimeout(graceTimer);
    spec.signal?.removeEventListener('abort', onAbort);
  }
}

/** How long parts on the wire may finish after the caller's abort before they are cut off. */
export const PART_GRACE_MS = 1000;
/** After a cut-off part: when to look again for the upload it may bring back (ms after the abort). */
const RECHECK_MS = [250, 750, 1750];

/**
 * Aborts the upload. When a part request was cut off, the server may still store that part and
 * with it bring the upload back: qnb looks again a few times and aborts it again while it shows.
 */
async function abortUpload(spec: UploadSpec, uploadId: string, cutOff: boolean): Promise<void> {
  const { sdk, client, bucket, key } = spec;
  const abort = () =>
    client
      .send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }))
      .catch(() => {});
  await abort();
  if (!cutOff) return;
  const started = Date.now();
  for (const at of RECHECK_MS) {
    await sleep(Math.max(0, started + at - Date.now()));
    const r = await client
      .send(new sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))
      .catch(() => undefined);
    if (r?.Uploads?.some((u) => u.UploadId === uploadId)) await abort();
  }
}

/** Aborts unfinished multipart uploads of exactly `key` (leftovers of a killed process). */
export async function abortLeftoverUploads(
  sdk: Sdk,
  client: S3Client,
  bucket: string,
  key: string,
): Promise<number> {
  const r = await client.send(new sdk.ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  let n = 0;
  for (const u of r.Uploads ?? []) {
    if (u.Key !== key || !u.UploadId) continue;
    await client
      .send(new sdk.AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: u.UploadId }))
      .catch(() => {});
    n++;
  }
  return n;
}
