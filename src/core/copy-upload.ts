/**
 * Sending bytes to a copy destination for `qnb copy`: one backup file (plain, or encrypted with age
 * while it is sent), a small text object (a manifest), and proving what is already there.
 * Every put is verified by the backend and retried with a fresh stream on transient failures.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { CopyBackend } from '../storage/backend.js';
import { withRetry } from '../storage/retry.js';
import type { TargetContext } from '../targets/target.js';
import { AGE_SUFFIX, planEncryption } from './age.js';
import { encryptedStream } from './age-copy.js';
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

/**
 * Sends one local file under `key` (or the stream `open` makes, a fresh one for every try),
 * retrying transient failures.
 */
export async function sendFile(
  backend: CopyBackend,
  a: RepoArtifact,
  local: { path: string; key: string; bytes: number; sha256: string; open?: () => Readable },
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
      backend.put(key, local.open?.() ?? createReadStream(local.path, { highWaterMark: 1 << 20 }), {
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
 * Sends one artifact encrypted: a first pass checks its plaintext against the manifest and learns
 * the encrypted bytes' size and sha256, then each try of the upload seals the file again into the
 * request (the same bytes every time; age-copy.ts). Nothing is written locally.
 */
export async function sendEncrypted(
  backend: CopyBackend,
  a: RepoArtifact,
  recipients: readonly string[],
  ctx: TargetContext,
): Promise<StoredObject> {
  const { file, bytes, sha256, target, name } = a.artifact;
  const key = `${file}${AGE_SUFFIX}`;
  const signal = ctx.signal ? { signal: ctx.signal } : {};
  ctx.reporter.emit({ type: 'step', target, name, message: `encrypting ${file} (age)` });
  const plan = await planEncryption(a.path, recipients, { bytes, sha256, what: file }, signal);
  const enc = plan.cipher;
  await sendFile(
    backend,
    a,
    { path: a.path, key, ...enc, open: () => encryptedStream(plan, ctx.signal) },
    ctx,
  );
  return { key, bytes: enc.bytes, sha256: enc.sha256, encryption: 'age', recipients: [...recipients] };
}
