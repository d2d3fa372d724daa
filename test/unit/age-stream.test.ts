/**
 * The age payload (STREAM, ChaCha20-Poly1305 through node:crypto): chunk boundaries as the age v1
 * spec fixes them, and every kind of tampering with the chunk sequence fails with a clear error
 * before any plaintext of a bad chunk is given out.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { CHUNK, openStream, SEALED_CHUNK, sealChunk, sealStream } from '../../src/core/age-stream.js';

const key = randomBytes(32);
const collect = async (g: AsyncIterable<Buffer | Buffer[]>) => {
  const parts: Buffer[] = [];
  for await (const p of g) parts.push(...[p].flat());
  return Buffer.concat(parts);
};
/** Feeds `b` in pieces of `piece` bytes (boundaries must not depend on how the bytes arrive). */
async function* pieces(b: Buffer, piece: number) {
  for (let i = 0; i < b.length; i += piece) yield b.subarray(i, i + piece);
}
const seal = (b: Buffer, piece = 7919) => collect(sealStream(pieces(b, piece), key));
const open = (b: Buffer, piece = 6007) => collect(openStream(pieces(b, piece), key));

test('chunk boundaries: empty payload is one empty final chunk; a full last chunk is marked last', async () => {
  for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5]) {
    const plain = randomBytes(size);
    for (const piece of [1 << 20, 7919]) {
      const sealed = await seal(plain, piece);
      const chunks = Math.max(1, Math.ceil(size / CHUNK));
      assert.equal(
        sealed.length,
        size + 16 * chunks,
        `${size} bytes: ${chunks} chunks, no trailing empty one`,
      );
      // the final chunk, full or not, carries the last flag: sealing it that way gives the same bytes
      const lastStart = (chunks - 1) * SEALED_CHUNK;
      const lastPlain = plain.subarray((chunks - 1) * CHUNK);
      assert.deepEqual(sealed.subarray(lastStart), sealChunk(key, chunks - 1, lastPlain, true));
      assert.deepEqual(await open(sealed), plain, `${size} bytes round-trip`);
    }
  }
});

test('truncated, extended, reordered or empty-tailed payloads fail with a clear error', async () => {
  const plain = randomBytes(3 * CHUNK + 100);
  const sealed = await seal(plain);
  const c = (i: number) => sealed.subarray(i * SEALED_CHUNK, (i + 1) * SEALED_CHUNK);
  const bad: [string, Buffer][] = [
    ['cut at a chunk boundary', sealed.subarray(0, 3 * SEALED_CHUNK)],
    ['cut inside a chunk', sealed.subarray(0, sealed.length - 50)],
    ['cut inside the tag of the last chunk', sealed.subarray(0, 3 * SEALED_CHUNK + 10)],
    ['nothing at all', Buffer.alloc(0)],
    ['extended by a byte', Buffer.concat([sealed, Buffer.from([0])])],
    ['extended by a copy of the last chunk', Buffer.concat([sealed, sealed.subarray(3 * SEALED_CHUNK)])],
    ['two chunks swapped', Buffer.concat([c(1), c(0), sealed.subarray(2 * SEALED_CHUNK)])],
    ['one bit flipped', Buffer.from(sealed).fill(sealed[100]! ^ 1, 100, 101)],
  ];
  for (const [what, b] of bad)
    await assert.rejects(open(b), /fails authentication|truncated/, `${what} must not decrypt`);

  // a full chunk not marked last, then an empty last chunk: what a writer that always ends with an
  // empty chunk would produce; the spec forbids it
  const full = randomBytes(CHUNK);
  const tailed = Buffer.concat([sealChunk(key, 0, full, false), sealChunk(key, 1, Buffer.alloc(0), true)]);
  await assert.rejects(open(tailed), /ends with an empty chunk/);
});

test('a bad chunk gives out no plaintext of its own: what came before it is all that is yielded', async () => {
  const plain = randomBytes(40 * CHUNK);
  const sealed = Buffer.from(await seal(plain));
  sealed[30 * SEALED_CHUNK + 5]! ^= 1;
  let yielded = 0;
  await assert.rejects(async () => {
    for await (const p of openStream(pieces(sealed, 1 << 20), key)) yielded += p.length;
  }, /chunk 30 fails authentication/);
  assert.ok(yielded <= 30 * CHUNK, `only chunks before the damaged one (got ${yielded} bytes)`);
});
