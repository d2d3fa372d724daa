/**
 * An encrypted copy decrypted as it arrives (core/ring-age.ts), driven the way a ring transfer
 * (core/raw-http.ts) drives it: bytes read into the current slot in pieces of any size, `write`,
 * and `free()` whenever it says the ring is full. Age files made by qnb and by the `age` CLI, at
 * every chunk and batch boundary, come out as their plaintext with both sides' size and sha256;
 * a damaged, truncated or extended payload, a header that differs from the one opened before,
 * and a wrong identity are refused with one clear error.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { encryptFile, openHeader } from '../../src/core/age.js';
import { CHUNK, SEALED_CHUNK, sealChunk } from '../../src/core/age-stream.js';
import { QnbError } from '../../src/core/errors.js';
import { createRingDecrypt } from '../../src/core/ring-age.js';
import { requireComponent } from '../helpers/components.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const identity = await generateIdentity();
const recipient = await identityToRecipient(identity);
const hasAge = spawnSync('age', ['--version']).status === 0;

/** Feeds `cipher` to a decrypting sink at `out` in pieces of `piece()` bytes; its results. */
async function feed(cipher: Buffer, out: string, head: Buffer, key: Buffer, piece: () => number) {
  const errors: Error[] = [];
  const sink = createRingDecrypt(out, {
    key,
    head,
    total: cipher.length,
    what: 'copy.age',
    onError: (e) => errors.push(e),
  });
  try {
    sink.open();
    for (let at = 0; at < cipher.length; ) {
      const slot = sink.slot();
      const n = Math.min(piece(), cipher.length - at, slot.length);
      cipher.copy(slot, 0, at, at + n);
      at += n;
      if (!sink.write(slot, 0, n)) await sink.free();
    }
    const got = await sink.finish();
    assert.deepEqual(errors, []);
    return { cipher: got, plain: sink.plain() };
  } finally {
    await sink.close();
  }
}

/** The age file of `data` (qnb's encryptFile), its header opened: payload key and header bytes. */
async function encrypted(dir: string, data: Buffer, name: string) {
  const src = join(dir, `${name}.plain`);
  const dst = join(dir, `${name}.age`);
  await writeFile(src, data);
  await encryptFile(src, dst, [recipient], { bytes: data.length, sha256: sha(data), what: name });
  const cipher = await readFile(dst);
  return { cipher, ...(await openHeader(createReadStream(dst), [identity], name)) };
}

test('qnb-made age files at every boundary come out whole, in pieces of any size', async (t) => {
  const dir = await tempDir(t);
  const sizes = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 16 * CHUNK, 16 * CHUNK + 1, 3 * (1 << 20) + 17, 9 << 20];
  let seed = 7;
  // pieces from 1 byte to a whole slot, and sizes that end inside a header or a tag
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return [1, 15, 16, 17, SEALED_CHUNK, 200_000, 1 << 20][seed % 7]!;
  };
  for (const size of sizes) {
    const data = randomBytes(size);
    const { cipher, key, head } = await encrypted(dir, data, `s${size}`);
    for (const [label, piece] of [
      ['random', random],
      ['whole slots', () => 1 << 20],
    ] as const) {
      const out = join(dir, `s${size}-${label}.out`);
      const r = await feed(cipher, out, head, key, piece);
      assert.deepEqual(
        r.cipher,
        { bytes: cipher.length, sha256: sha(cipher) },
        `${size} ${label}: ciphertext`,
      );
      assert.deepEqual(r.plain, { bytes: size, sha256: sha(data) }, `${size} ${label}: plaintext`);
      assert.ok((await readFile(out)).equals(data), `${size} ${label}: the file is the plaintext`);
    }
  }
});

test('an age file the age CLI wrote comes out whole', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const data = randomBytes(2 * (1 << 20) + 99);
  await writeFile(join(dir, 'p'), data);
  const made = spawnSync('age', ['-r', recipient, '-o', join(dir, 'p.age'), join(dir, 'p')]);
  assert.equal(made.status, 0, String(made.stderr));
  const cipher = await readFile(join(dir, 'p.age'));
  const { key, head } = await openHeader(createReadStream(join(dir, 'p.age')), [identity], 'p.age');
  const r = await feed(cipher, join(dir, 'out'), head, key, () => 4096);
  assert.deepEqual(r.plain, { bytes: data.length, sha256: sha(data) });
  assert.ok((await readFile(join(dir, 'out'))).equals(data));
});

test('damage, truncation, extension and another header are refused; a wrong identity before any byte', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(5 * CHUNK + 3);
  const { cipher, key, head } = await encrypted(dir, data, 'd');
  const refused = async (bytes: Buffer, total: number, name: string, re: RegExp, code: string) => {
    const sink = createRingDecrypt(join(dir, name), {
      key,
      head,
      total,
      what: 'copy.age',
      onError: () => {},
    });
    try {
      sink.open();
      await assert.rejects(
        (async () => {
          for (let at = 0; at < bytes.length; at += 1000) {
            const slot = sink.slot();
            const n = Math.min(1000, bytes.length - at);
            bytes.copy(slot, 0, at, at + n);
            if (!sink.write(slot, 0, n)) await sink.free();
          }
          await sink.finish();
        })(),
        (e: unknown) => e instanceof QnbError && e.code === code && re.test(e.message),
        name,
      );
    } finally {
      await sink.close();
    }
  };
  const flipped = Buffer.from(cipher);
  flipped[head.length + 2 * SEALED_CHUNK + 10]! ^= 1;
  await refused(
    flipped,
    cipher.length,
    'flip',
    /copy\.age: the encrypted copy is damaged \(chunk 2 fails authentication/,
    'E_CHECKSUM',
  );
  const short = cipher.subarray(0, cipher.length - 20);
  await refused(
    short,
    cipher.length,
    'short',
    /ends after \d+ of the \d+ bytes its manifest records/,
    'E_CHECKSUM',
  );
  // the manifest records a shorter object: the chunk that ends there is taken for the last one
  await refused(cipher, cipher.length - SEALED_CHUNK, 'cut', /damaged/, 'E_CHECKSUM');
  assert.throws(
    () =>
      createRingDecrypt(join(dir, 'tiny'), {
        key,
        head,
        total: head.length + 15,
        what: 'copy.age',
        onError: () => {},
      }),
    (e: unknown) => e instanceof QnbError && /records \d+ bytes, less than its header/.test(e.message),
  );
  const longer = Buffer.concat([cipher, Buffer.alloc(40)]);
  await refused(
    longer,
    cipher.length,
    'long',
    /longer than the \d+ bytes its manifest records/,
    'E_CHECKSUM',
  );
  // a payload that ends with an empty chunk after a full one (age forbids it; no encryptor here makes it)
  const one = randomBytes(CHUNK);
  const trailing = Buffer.concat([
    head,
    sealChunk(key, 0, one, false),
    sealChunk(key, 1, Buffer.alloc(0), true),
  ]);
  await refused(trailing, trailing.length, 'empty', /ends with an empty chunk after data/, 'E_CHECKSUM');
  const otherHead = Buffer.from(cipher);
  otherHead[30]! ^= 1;
  await refused(
    otherHead,
    cipher.length,
    'head',
    /copy\.age: the object changed after qnb read its header/,
    'E_SERVER',
  );

  const other = await generateIdentity();
  await assert.rejects(
    openHeader(createReadStream(join(dir, 'd.age')), [other], 'd.age'),
    (e: unknown) =>
      e instanceof QnbError &&
      e.code === 'E_AUTH' &&
      /none of the age identities can decrypt it/.test(e.message),
  );
});
