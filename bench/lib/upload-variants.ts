/**
 * Bench-local experiments on qnb's upload path (src/ is not changed). Most variants call qnb's
 * real `createQdrantApi().uploadSnapshot` and only change how the file stream is built (chunk
 * size); `iterable*` use a copy of uploadSnapshot that hands its async generator to undici
 * directly instead of wrapping it in Readable.from. All hash the bytes they send.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { Agent, request } from 'undici';
import { hashingCounter } from '../../src/core/transfer.js';
import { createQdrantApi } from '../../src/targets/qdrant/qdrant-api.js';

type Result = { bytes: number; sha256: string };
export type UploadVariant = (
  url: string,
  collection: string,
  file: string,
  size: number,
  fileName: string,
  sha256: string,
) => Promise<Result>;

/** qnb's uploadSnapshot with the file read in `chunk`-byte pieces (qnb reads 1 MiB). */
function chunked(chunk: number): UploadVariant {
  return async (url, collection, file, size, fileName, sha256) => {
    const api = createQdrantApi({ url });
    try {
      const counter = hashingCounter(() => {});
      const stream = createReadStream(file, { highWaterMark: chunk }).pipe(counter);
      await api.uploadSnapshot(collection, { fileName, size, stream, sha256 });
      return counter.result();
    } finally {
      await api.close();
    }
  };
}

/** A copy of uploadSnapshot whose multipart generator goes to undici as an AsyncIterable. */
/**
 * `counter: true` feeds the generator exactly like qnb does (createReadStream(1 MiB).pipe(hashingCounter())
 * and `yield*` it), so the only difference to `exact` is the missing Readable.from around the body.
 * `counter: false` reads the file in the generator and hashes there (no Transform at all).
 */
function iterable(chunk: number, counter = false): UploadVariant {
  return async (url, collection, file, size, fileName, sha256) => {
    const stage = counter ? hashingCounter(() => {}) : undefined;
    const boundary = `----qnbbench${Date.now().toString(16)}`;
    const head = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${fileName}"\r\n` +
        'Content-Type: application/octet-stream\r\n\r\n',
    );
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const hash = createHash('sha256');
    let bytes = 0;
    async function* parts() {
      yield head;
      if (stage) yield* createReadStream(file, { highWaterMark: chunk }).pipe(stage);
      else
        for await (const c of createReadStream(file, { highWaterMark: chunk }) as AsyncIterable<Buffer>) {
          hash.update(c);
          bytes += c.length;
          yield c;
        }
      yield tail;
    }
    const agent = new Agent({ headersTimeout: 0, bodyTimeout: 300_000 });
    try {
      const res = await request(
        `${url}/collections/${encodeURIComponent(collection)}/snapshots/upload?wait=true&priority=snapshot&checksum=${sha256}`,
        {
          method: 'POST',
          dispatcher: agent,
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(head.length + size + tail.length),
          },
          // undici's dispatcher accepts an AsyncIterable body (its `request` typings list Readable only)
          body: parts() as unknown as Readable,
        },
      );
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text}`);
    } finally {
      await agent.close();
    }
    return stage ? stage.result() : { bytes, sha256: hash.digest('hex') };
  };
}

/** qnb's uploadSnapshot fed straight from the file, without the hashing Transform (what hashing costs). */
const nohash: UploadVariant = async (url, collection, file, size, fileName, sha256) => {
  const api = createQdrantApi({ url });
  try {
    await api.uploadSnapshot(collection, {
      fileName,
      size,
      stream: createReadStream(file, { highWaterMark: 1 << 20 }),
      sha256,
    });
    return { bytes: size, sha256 };
  } finally {
    await api.close();
  }
};

export const UPLOAD_VARIANTS: Record<string, UploadVariant> = {
  nohash,
  /** qnb's code with 64 KiB reads instead of 1 MiB. */
  read64k: chunked(64 << 10),
  /** qnb's code with 256 KiB reads. */
  read256k: chunked(256 << 10),
  /** Generator handed to undici directly (no Readable.from read-ahead), 1 MiB reads, hashed in the generator. */
  iterable: iterable(1 << 20),
  /** qnb's exact stream (createReadStream 1 MiB → hashingCounter), only without Readable.from around the body. */
  'iterable-body': iterable(1 << 20, true),
  /** Generator handed to undici directly, 64 KiB reads. */
  'iterable-64k': iterable(64 << 10),
};
