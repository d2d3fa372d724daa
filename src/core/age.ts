/**
 * age encryption of off-site copies (https://age-encryption.org/v1), through `age-encryption`, the
 * TypeScript implementation by age's author. A copy encrypted here is an ordinary `.age` file:
 * `age -d -i key.txt file.snapshot.age > file.snapshot` decrypts it without qnb.
 *
 * Streams are web streams inside the library; both adapters here pull one chunk at a time, so
 * memory stays bounded whatever the file's size (Node 20's `Readable.toWeb` does not always apply
 * backpressure).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ConfigError, QnbError } from './errors.js';
import { type StreamResult, streamToFile } from './transfer.js';

/** Suffix of an encrypted copy's key on the target. */
export const AGE_SUFFIX = '.age';

const lib = () => import('age-encryption');

/** A web stream that pulls one chunk at a time from a Node stream (bounded memory). */
function webFrom(source: Readable, onChunk: (c: Buffer) => void): ReadableStream<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await it.next();
        if (done) controller.close();
        else {
          onChunk(value as Buffer);
          controller.enqueue(value as Uint8Array);
        }
      },
      cancel(reason) {
        source.destroy(reason instanceof Error ? reason : undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A file read one MiB at a time as a web stream, each chunk passed to `onChunk` first. */
async function webFromFile(path: string, onChunk: (c: Buffer) => void): Promise<ReadableStream<Uint8Array>> {
  const fh = await open(path, 'r');
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const buf = Buffer.allocUnsafe(1 << 20);
          const { bytesRead } = await fh.read(buf, 0, buf.length, null);
          if (bytesRead === 0) {
            await fh.close();
            controller.close();
            return;
          }
          const chunk = buf.subarray(0, bytesRead);
          onChunk(chunk);
          controller.enqueue(chunk);
        } catch (err) {
          await fh.close().catch(() => {});
          controller.error(err);
        }
      },
      async cancel() {
        await fh.close().catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * Encrypts `source` for `recipients` into a new file `dest` (created exclusively). The plaintext is
 * hashed as it is read and must be `expect`'s bytes, or `dest` is worthless and E_CHECKSUM is
 * thrown. Returns size and sha256 of the encrypted file.
 */
export async function encryptFile(
  source: string,
  dest: string,
  recipients: readonly string[],
  expect: { bytes: number; sha256: string; what: string },
  opts: { signal?: AbortSignal; onProgress?: (plainBytes: number) => void } = {},
): Promise<StreamResult> {
  const { Encrypter } = await lib();
  const enc = new Encrypter();
  try {
    for (const r of recipients) enc.addRecipient(r);
  } catch (err) {
    throw new ConfigError(
      `QNB_AGE_RECIPIENTS: ${(err as Error).message}`,
      'give age public keys (age1…), as `age-keygen -y key.txt` prints them',
    );
  }
  const plain = createHash('sha256');
  let plainBytes = 0;
  const input = await webFromFile(source, (c) => {
    plain.update(c);
    plainBytes += c.length;
    opts.onProgress?.(plainBytes);
  });
  const cipher = await enc.encrypt(input);
  const out = await streamToFile(Readable.from(cipher), dest, opts.signal ? { signal: opts.signal } : {});
  if (plainBytes !== expect.bytes || plain.digest('hex') !== expect.sha256)
    throw new QnbError(
      'E_CHECKSUM',
      `${expect.what}: the bytes read differ from the manifest; nothing sent`,
      {
        hint: 'the local file is corrupt or changed: run `qnb verify`',
      },
    );
  return out;
}

/** How a decryption went: the encrypted bytes read, and the plaintext written. */
export interface DecryptResult {
  cipher: StreamResult;
  plain: StreamResult;
}

/**
 * Decrypts `source` (an age file) with `identities` into a new file `dest`, hashing both sides.
 * A file none of the identities opens, or a damaged one, is an error (QnbError) with `what` in it.
 */
export async function decryptToFile(
  source: Readable,
  dest: string,
  identities: readonly string[],
  what: string,
  opts: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<DecryptResult> {
  const plainStream = await decryptStream(source, identities, what);
  const plain = await streamToFile(Readable.from(plainStream.stream), dest, opts).catch((err) => {
    throw plainStream.explain(err);
  });
  return { cipher: plainStream.cipher(), plain };
}

/** Decrypts `source` into a stream (for hashing without writing); `cipher()` after it ended. */
export async function decryptStream(
  source: Readable,
  identities: readonly string[],
  what: string,
): Promise<{ stream: ReadableStream<Uint8Array>; cipher(): StreamResult; explain(err: unknown): QnbError }> {
  const { Decrypter } = await lib();
  const dec = new Decrypter();
  for (const i of identities) dec.addIdentity(i);
  const hash = createHash('sha256');
  let bytes = 0;
  const explain = (err: unknown) => {
    if (err instanceof QnbError) return err;
    const m = (err as Error).message ?? String(err);
    if (/no identity matched/i.test(m))
      return new QnbError('E_AUTH', `${what}: none of the age identities can decrypt it`, {
        hint: 'set QNB_AGE_IDENTITY_FILE to the key file whose public key the copy was encrypted to',
      });
    return new QnbError('E_CHECKSUM', `${what}: the encrypted copy is damaged (${m})`, {
      hint: 'restore an older copy: `qnb list --remote TARGET`',
    });
  };
  let stream: ReadableStream<Uint8Array>;
  try {
    stream = await dec.decrypt(
      webFrom(source, (c) => {
        hash.update(c);
        bytes += c.length;
      }),
    );
  } catch (err) {
    source.destroy();
    throw explain(err);
  }
  return { stream, cipher: () => ({ bytes, sha256: hash.digest('hex') }), explain };
}
