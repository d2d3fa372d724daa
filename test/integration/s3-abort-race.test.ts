/**
 * An interrupted multipart upload leaves nothing on a real S3 server (versitygw), even when a
 * part request the client gave up on is still being handled by the server. The S3 client's
 * request handler is wrapped to model a part on a slow wire: the server gets the request and its
 * first MiB at once and the rest `delay` ms later, whatever the client does, while the client
 * sees an abort at once (as the SDK's own handler does). Before the fix, qnb aborted the upload
 * while the server was still reading such a part, which then brought the upload back:
 * ListMultipartUploads showed it after qnb's put had rejected (and, in the `qnb copy` SIGINT
 * e2e, after qnb had exited with 130).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Backend } from '../../src/storage/s3/s3-backend.js';
import { MIN_PART_SIZE } from '../../src/storage/s3/s3-config.js';
import { PART_GRACE_MS } from '../../src/storage/s3/s3-upload.js';
import { IN_CI } from '../helpers/components.js';
import { backendThrough } from '../helpers/s3-handler.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';

const avail = s3ServerAvailable();
if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);
let server: S3TestServer | undefined;
after(async () => server?.stop());

/**
 * A backend whose part requests reach the server `delay` ms late and cannot be called back;
 * `onWire` is told when one leaves, `late` holds the real requests.
 */
async function delayedPartsBackend(
  t: { after(fn: () => unknown): void },
  delay: number,
  onWire: () => void,
): Promise<{ backend: S3Backend; late: Promise<unknown>[] }> {
  server ??= await startS3TestServer();
  const late: Promise<unknown>[] = [];
  const backend = await backendThrough(t, server, (real) => ({
    handle(req, o) {
      if (req.query?.partNumber === undefined) return real.handle(req, o);
      // the server gets the request and the first bytes now, the rest `delay` ms later
      const body = req.body as Buffer;
      req.body = Readable.from(
        (async function* () {
          yield body.subarray(0, 1024 * 1024);
          await sleep(delay);
          yield body.subarray(1024 * 1024);
        })(),
      );
      const sent = real.handle(req, {});
      late.push(sent.catch(() => {}));
      // abort once the server surely handles the request
      setTimeout(onWire, 150);
      return new Promise((resolve, reject) => {
        sent.then(resolve, reject);
        const cut = () => reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' }));
        if (o?.abortSignal?.aborted) cut();
        o?.abortSignal?.addEventListener('abort', cut, { once: true });
      });
    },
    destroy: () => real.destroy?.(),
  }));
  return { backend, late };
}

const data = Buffer.alloc(3 * MIN_PART_SIZE - 1000, 7);
const sha256 = createHash('sha256').update(data).digest('hex');

/** Puts `data`, aborting as soon as the first part is on the wire; returns how long the put took after the abort. */
async function interruptedPut(delay: number, t: { after(fn: () => unknown): void }) {
  const ac = new AbortController();
  let abortedAt = 0;
  const { backend, late } = await delayedPartsBackend(t, delay, () => {
    if (ac.signal.aborted) return;
    abortedAt = Date.now();
    queueMicrotask(() => ac.abort());
  });
  await assert.rejects(
    backend.put('qdrant/big.snapshot', Readable.from([data]), {
      size: data.length,
      sha256,
      signal: ac.signal,
    }),
    (e: { code?: string }) => e.code === 'E_INTERRUPTED',
  );
  const took = Date.now() - abortedAt;
  assert.deepEqual(await backend.incompleteUploads(), [], 'no unfinished upload when the put rejects');
  await Promise.all(late);
  await sleep(200);
  assert.deepEqual(
    await backend.incompleteUploads(),
    [],
    'no unfinished upload once the late part requests are over',
  );
  assert.equal(await backend.stat('qdrant/big.snapshot'), undefined, 'no object either');
  // the next put of the same key works
  const got = await backend.put('qdrant/big.snapshot', Readable.from([data]), { size: data.length, sha256 });
  assert.equal(got.sha256, sha256);
  return took;
}

describe('S3: a part that reaches the server after an interrupt', {
  skip: avail.ok ? false : `S3 server missing — ${avail.hint}`,
}, () => {
  test('a part still on the wire finishes before the upload is aborted (within the grace)', async (t) => {
    const took = await interruptedPut(300, t);
    assert.ok(took < PART_GRACE_MS + 2000, `the interrupt took ${took} ms`);
  });

  test('a part cut off after the grace that lands later is aborted again', async (t) => {
    const took = await interruptedPut(PART_GRACE_MS + 300, t);
    assert.ok(took < PART_GRACE_MS + 4000, `the interrupt took ${took} ms`);
  });
});
