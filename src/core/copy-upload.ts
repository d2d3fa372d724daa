/**
 * Sending bytes to a copy destination for `qnb copy`: one backup file (plain, or encrypted with age
 * to a temporary file first), a small text object (a manifest), and proving what is already there.
 * Every put is verified by the backend and retried with a fresh stream on transient failures.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { CopyBackend } from '../storage/backend.js';
import { withRetry } from '../storage/retry.js';
import type { TargetContext } from '../targets/target.js';
import { AGE_SUFFIX, encryptFile } from './age.js';
import { tempPathFor } from './fs-safe.js';
import type { StoredObject } from './manifest.js';
import type { RepoArtifact } from './repository.js';

/** sha256 of an object on the destination: recorded at put time when the backend keeps it, else read back. */
export async function remoteSha256(
  backend: CopyBackend,
  key: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  if (backend.properties().storesSha256) return (await backend.stat(key, signal ? { signal } : {}))?.sha256;
  const hash = createHash('sha256');
  for await (const chunk of await backend.get(key, signal ? { signal } : {})) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Puts a small in-memory object (a manifest). */
export async function putText(
  backend: CopyBackend,
  key: string,
  text: string,
  signal?: AbortSignal,
): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  const sha256 = createHash('sha256').update(data).digest('hex');
  await withRetry(
    () =>
      backend.put(key, Readable.from([data]), { size: data.length, sha256, ...(signal ? { signal } : {}) }),
    {
      ...(signal ? { signal } : {}),
    },
  );
}

/** Sends one local file under `key`, retrying transient failures with a fresh stream. */
export async function sendFile(
  backend: CopyBackend,
  a: RepoArtifact,
  local: { path: string; key: string; bytes: number; sha256: string },
  ctx: TargetContext,
): Promise<void> {
  const { target, name } = a.artifact;
  const { key, bytes, sha256 } = local;
  const started = Date.now();
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'upload',
    target,
    name,
    file: key,
    totalBytes: bytes,
  });
  await withRetry(
    () =>
      backend.put(key, createReadStream(local.path, { highWaterMark: 1 << 20 }), {
        size: bytes,
        sha256,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
        onProgress: (n) =>
          ctx.reporter.emit({
            type: 'transfer-progress',
            direction: 'upload',
            name,
            bytes: n,
            totalBytes: bytes,
          }),
      }),
    {
      ...(ctx.signal ? { signal: ctx.signal } : {}),
      onRetry: (attempt, e) =>
        ctx.reporter.emit({
          type: 'warning',
          target,
          name,
          message: `${key}: try ${attempt} failed (${e.message}); trying again`,
        }),
    },
  );
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name,
    bytes,
    durationMs: Date.now() - started,
  });
}

/**
 * Encrypts one artifact to a temporary file beside it (so the exact bytes, their size and sha256
 * are known before the upload starts, and a retry sends the same bytes), sends it, removes it.
 */
export async function sendEncrypted(
  backend: CopyBackend,
  a: RepoArtifact,
  recipients: readonly string[],
  ctx: TargetContext,
): Promise<StoredObject> {
  const { file, bytes, sha256, target, name } = a.artifact;
  const key = `${file}${AGE_SUFFIX}`;
  const tmp = tempPathFor(a.path);
  try {
    ctx.reporter.emit({ type: 'step', target, name, message: `encrypting ${file} (age)` });
    const enc = await encryptFile(
      a.path,
      tmp,
      recipients,
      { bytes, sha256, what: file },
      ctx.signal ? { signal: ctx.signal } : {},
    );
    await sendFile(backend, a, { path: tmp, key, ...enc }, ctx);
    return { key, bytes: enc.bytes, sha256: enc.sha256, encryption: 'age', recipients: [...recipients] };
  } finally {
    await rm(tmp, { force: true }).catch(() => {});
  }
}
