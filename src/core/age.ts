/**
 * age encryption of off-site copies (https://age-encryption.org/v1). A copy encrypted here is an
 * ordinary `.age` file: `age -d -i key.txt file.snapshot.age > file.snapshot` decrypts it without
 * qnb, and qnb decrypts what the `age` CLI wrote.
 *
 * The header (X25519 recipients, the file key wrapped for each, the header MAC) comes from
 * `age-encryption`, the TypeScript implementation by age's author; the payload, where the bytes
 * are, goes through Node's OpenSSL ChaCha20-Poly1305 (age-stream.ts). Memory stays bounded
 * whatever the file's size.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { sealFile, sealSource } from './age-file.js';
import { releaseRings } from './age-seal-worker.js';
import { openChunk, openStream, payloadKey } from './age-stream.js';
import { ConfigError, QnbError } from './errors.js';
import { type StreamResult, streamToFile } from './transfer.js';

/** Suffix of an encrypted copy's key on the target. */
export const AGE_SUFFIX = '.age';

const lib = () => import('age-encryption');

/** The 16-byte nonce that follows the header and salts the payload key. */
const NONCE = 16;
/** Longest header qnb reads (a header holds one short stanza per recipient). */
const MAX_HEADER = 1 << 20;

/**
 * A new header for `recipients` and the file key it wraps. `age-encryption` writes the header; a
 * recipient of qnb's own that adds no stanza hands qnb the file key. The library's output for an
 * empty payload is header ‖ nonce ‖ one empty final chunk: qnb opens that chunk with the key it
 * derives, which proves the key derivation matches the library's, and keeps only the header.
 */
async function newHeader(recipients: readonly string[]): Promise<{ header: Buffer; fileKey: Buffer }> {
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
  let fileKey: Buffer | undefined;
  enc.addRecipient({
    wrapFileKey(key: Uint8Array) {
      fileKey = Buffer.from(key);
      return [];
    },
  });
  const empty = Buffer.from(await enc.encrypt(new Uint8Array(0)));
  const end = empty.length - NONCE - 16;
  const header = empty.subarray(0, end);
  if (!fileKey || !header.toString('latin1').endsWith('\n') || headerLength(header) !== end)
    throw new QnbError('E_INTERNAL', 'age-encryption wrote a header qnb does not understand');
  const key = payloadKey(fileKey, empty.subarray(end, end + NONCE));
  openChunk(key, 0, empty.subarray(end + NONCE), true);
  return { header: Buffer.from(header), fileKey };
}

/**
 * Length of the header at the start of `buf` (through the newline ending its `--- MAC` line), or
 * -1 when `buf` does not hold all of it yet. Throws when `buf` cannot start an age v1 file.
 */
function headerLength(buf: Buffer): number {
  const intro = 'age-encryption.org/v1\n';
  const start = buf.subarray(0, Math.min(buf.length, intro.length)).toString('latin1');
  if (!intro.startsWith(start)) throw new Error('not an age v1 file (no age-encryption.org/v1 header)');
  const mac = buf.indexOf('\n---', 0, 'latin1');
  if (mac < 0) return -1;
  const eol = buf.indexOf(10, mac + 4);
  return eol < 0 ? -1 : eol + 1;
}

/** A new header for `recipients`, a fresh payload nonce, and the payload key they give. */
async function newPayload(recipients: readonly string[]): Promise<{ head: Buffer[]; key: Buffer }> {
  const { header, fileKey } = await newHeader(recipients);
  // a fresh payload nonce of qnb's own: the key the library used for its empty payload is not reused
  const nonce = randomBytes(NONCE);
  return { head: [header, nonce], key: payloadKey(fileKey, nonce) };
}

/** What the plaintext must be: the manifest's size and sha256 of the file `what`. */
type Expect = { bytes: number; sha256: string; what: string };
/** Options of an encryption pass. */
type PassOptions = { signal?: AbortSignal; onProgress?: (plainBytes: number) => void };

/** Throws E_CHECKSUM unless the plaintext read is `expect`'s bytes. */
function checkPlain(plain: StreamResult, expect: Expect): void {
  // after a large file only: a full GC costs milliseconds, a copy may encrypt many small files
  if (plain.bytes >= 64 * 1024 * 1024) releaseRings();
  if (plain.bytes !== expect.bytes || plain.sha256 !== expect.sha256)
    throw new QnbError(
      'E_CHECKSUM',
      `${expect.what}: the bytes read differ from the manifest; nothing sent`,
      {
        hint: 'the local file is corrupt or changed: run `qnb verify`',
      },
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
  expect: Expect,
  opts: PassOptions = {},
): Promise<StreamResult> {
  const { head, key } = await newPayload(recipients);
  const { plain, cipher } = await sealFile(source, dest, head, key, opts);
  checkPlain(plain, expect);
  return cipher;
}

/**
 * One file's encryption, fixed: header, payload nonce and key chosen once, so every pass over the
 * same plaintext makes the same bytes (age-copy.ts seals it again for each try of an upload).
 * Holds the payload key: never logged, never written anywhere.
 */
export interface AgePlan {
  source: string;
  head: Buffer[];
  key: Buffer;
  /** Size and sha256 of the whole encrypted file (header included). */
  cipher: StreamResult;
}

/**
 * Reads `source` once, encrypting it for `recipients` without writing anything: the plaintext
 * must be `expect`'s bytes (else E_CHECKSUM), and the ciphertext's size and sha256 are learnt.
 */
export async function planEncryption(
  source: string,
  recipients: readonly string[],
  expect: Expect,
  opts: PassOptions = {},
): Promise<AgePlan> {
  const { head, key } = await newPayload(recipients);
  const { plain, cipher } = await sealSource(source, head, key, undefined, opts);
  checkPlain(plain, expect);
  return { source, head, key, cipher };
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
  const plain = await streamToFile(plainStream.stream, dest, opts).catch((err) => {
    throw plainStream.explain(err);
  });
  return { cipher: plainStream.cipher(), plain };
}

/**
 * Reads the header from `it` (hashing what it reads); returns it and the bytes read after it.
 * Bounded: a "header" longer than MAX_HEADER is not one.
 */
async function readHeader(
  it: AsyncIterator<Uint8Array>,
  onChunk: (c: Buffer) => void,
): Promise<{ header: Buffer; rest: Buffer }> {
  let buf = Buffer.alloc(0);
  for (;;) {
    const len = headerLength(buf);
    if (len >= 0) return { header: buf.subarray(0, len), rest: buf.subarray(len) };
    if (buf.length > MAX_HEADER) throw new Error('not an age v1 file (no end of header in the first MiB)');
    const { value, done } = await it.next();
    if (done) throw new Error('the file ends inside the age header (truncated)');
    const c = Buffer.from(value);
    onChunk(c);
    buf = Buffer.concat([buf, c]);
  }
}

/** An age error from the header or the payload as one QnbError naming `what`. */
function explainAge(err: unknown, what: string): QnbError {
  if (err instanceof QnbError) return err;
  const m = (err as Error).message ?? String(err);
  if (/no identity matched/i.test(m))
    return new QnbError('E_AUTH', `${what}: none of the age identities can decrypt it`, {
      hint: 'set QNB_AGE_IDENTITY_FILE to the key file whose public key the copy was encrypted to',
    });
  return new QnbError('E_CHECKSUM', `${what}: the encrypted copy is damaged (${m})`, {
    hint: 'restore an older copy: `qnb list --remote TARGET`',
  });
}

/**
 * Reads an age file's header and payload nonce from `it` (every chunk read goes to `onChunk`) and
 * opens the header with one of `identities`; the payload key and what was read past the nonce.
 */
async function readStart(
  it: AsyncIterator<Uint8Array>,
  identities: readonly string[],
  onChunk: (c: Buffer) => void,
): Promise<{ key: Buffer; rest: Buffer }> {
  const { Decrypter } = await lib();
  const dec = new Decrypter();
  for (const i of identities) dec.addIdentity(i);
  const h = await readHeader(it, onChunk);
  const fileKey = await dec.decryptHeader(h.header);
  let rest = h.rest;
  while (rest.length < NONCE) {
    const { value, done } = await it.next();
    if (done) throw new Error('the file ends before its payload (truncated)');
    const c = Buffer.from(value);
    onChunk(c);
    rest = Buffer.concat([rest, c]);
  }
  return { key: payloadKey(fileKey, rest.subarray(0, NONCE)), rest: rest.subarray(NONCE) };
}

/**
 * Opens the header of the age file `source` starts with, reading no further than the chunk that
 * holds the payload nonce, then releases `source`: the payload key, and the header's and nonce's
 * bytes (what a later read of the same object must start with, ring-age.ts).
 */
export async function openHeader(
  source: Readable,
  identities: readonly string[],
  what: string,
): Promise<{ key: Buffer; head: Buffer }> {
  const seen: Buffer[] = [];
  try {
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
    const { key, rest } = await readStart(it, identities, (c) => seen.push(c));
    const all = Buffer.concat(seen);
    return { key, head: all.subarray(0, all.length - rest.length) };
  } catch (err) {
    throw explainAge(err, what);
  } finally {
    source.destroy();
  }
}

/** Decrypts `source` into a stream (for hashing without writing); `cipher()` after it ended. */
export async function decryptStream(
  source: Readable,
  identities: readonly string[],
  what: string,
): Promise<{ stream: Readable; cipher(): StreamResult; explain(err: unknown): QnbError }> {
  const hash = createHash('sha256');
  let bytes = 0;
  const count = (c: Uint8Array) => {
    hash.update(c);
    bytes += c.length;
  };
  const explain = (err: unknown) => explainAge(err, what);
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>;
  let key: Buffer;
  let rest: Buffer;
  try {
    ({ key, rest } = await readStart(it, identities, count));
  } catch (err) {
    source.destroy();
    throw explain(err);
  }
  async function* payload(): AsyncGenerator<Uint8Array> {
    let ended = false;
    try {
      if (rest.length) yield rest;
      for (;;) {
        const { value, done } = await it.next();
        if (done) break;
        count(value);
        yield value;
      }
      ended = true;
    } finally {
      // stopped early (damage found, or the writer failed): nothing more is read
      if (!ended) source.destroy();
    }
  }
  const stream = Readable.from(openStream(payload(), key));
  // a reader that stops before it read anything never starts payload(): release the source here
  stream.once('close', () => source.destroy());
  return {
    stream,
    cipher: () => ({ bytes, sha256: hash.digest('hex') }),
    explain,
  };
}
