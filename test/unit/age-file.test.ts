/**
 * The two-thread encryption of a file (age-file.ts + age-seal-worker.ts): byte for byte the payload
 * the one-thread reference sealer (age-stream.ts) writes, at every batch and ring boundary; both
 * hashes right; a damaged chunk sealed by either thread refused; an interrupt or a read error stops
 * the worker (the process exits by itself) and is reported as before.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sealFile } from '../../src/core/age-file.js';
import { PLAIN_SLOT, SLOTS } from '../../src/core/age-seal-worker.js';
import { CHUNK, openStream, SEALED_CHUNK, sealStream } from '../../src/core/age-stream.js';
import { tempDir } from '../helpers/tmp.js';

const key = randomBytes(32);
const head = [Buffer.from('age-encryption.org/v1\n-> test\n--- mac\n'), randomBytes(16)];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const collect = async (g: AsyncIterable<Buffer | Buffer[]>) => {
  const parts: Buffer[] = [];
  for await (const p of g) parts.push(...[p].flat());
  return Buffer.concat(parts);
};
async function* once(b: Buffer) {
  yield b;
}
const fileOf = (dir: string) => join(dir, `${Math.random().toString(36).slice(2)}`);

test('both threads together write exactly the reference payload, at every batch and ring boundary', async (t) => {
  const dir = await tempDir(t);
  const MiB = PLAIN_SLOT;
  const ring = SLOTS * PLAIN_SLOT;
  const sizes = [0, 1, CHUNK, MiB - 1, MiB, MiB + 1, 2 * MiB, 3 * MiB + CHUNK, ring, 2 * ring + 5];
  for (const size of sizes) {
    const plain = randomBytes(size);
    const src = fileOf(dir);
    const dest = fileOf(dir);
    await writeFile(src, plain);
    let progress = 0;
    const got = await sealFile(src, dest, head, key, { onProgress: (n) => (progress = n) });
    const written = await readFile(dest);
    const reference = Buffer.concat([...head, await collect(sealStream(once(plain), key))]);
    assert.ok(written.equals(reference), `${size} bytes: the same bytes as the one-thread sealer`);
    assert.deepEqual(got.plain, { bytes: size, sha256: sha(plain) }, `${size}: plaintext hash`);
    assert.deepEqual(got.cipher, { bytes: written.length, sha256: sha(written) }, `${size}: file hash`);
    assert.equal(progress, size, `${size}: progress reaches the size`);
  }
});

test('a damaged chunk in the middle is refused, whichever thread sealed it', async (t) => {
  const dir = await tempDir(t);
  const plain = randomBytes(6 * PLAIN_SLOT + 1234);
  const src = fileOf(dir);
  const dest = fileOf(dir);
  await writeFile(src, plain);
  await sealFile(src, dest, head, key);
  const payload = (await readFile(dest)).subarray(Buffer.concat(head).length);
  assert.deepEqual(await collect(openStream(once(payload), key)), plain, 'the undamaged file opens');
  // batch 2 is sealed by the main thread, batch 3 by the worker (16 chunks a batch)
  for (const chunk of [2 * 16 + 7, 3 * 16 + 7]) {
    const bad = Buffer.from(payload);
    bad[chunk * SEALED_CHUNK + 99]! ^= 0x40;
    await assert.rejects(
      collect(openStream(once(bad), key)),
      new RegExp(`chunk ${chunk} fails authentication`),
      `chunk ${chunk} damaged`,
    );
  }
});

/** Runs `body` (TypeScript, top-level await) in a child Node; returns its exit status and output. */
function child(body: string) {
  const script = `import { sealFile } from ${JSON.stringify(fileURLToPath(new URL('../../src/core/age-file.ts', import.meta.url)))};\n${body}`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, signal: r.signal, out: `${r.stdout}${r.stderr}` };
}

test('an interrupt mid-file stops the worker: the error is "interrupted" and the process exits by itself', async (t) => {
  const dir = await tempDir(t);
  const src = fileOf(dir);
  await writeFile(src, randomBytes(24 * PLAIN_SLOT));
  const r = child(`
    const ac = new AbortController();
    const t0 = Date.now();
    await sealFile(${JSON.stringify(src)}, ${JSON.stringify(fileOf(dir))}, [Buffer.from('h')], Buffer.alloc(32, 1), {
      signal: ac.signal,
      onProgress: (n) => { if (n >= 5 * 1024 * 1024) ac.abort(); },
    }).then(() => console.log('finished?!'), (e) => console.log('rejected:', e.code, e.message));
    // no process.exit: a worker left running would keep this process alive until the timeout
  `);
  assert.equal(r.signal, null, `the process exits by itself (${r.out})`);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /rejected: E_INTERRUPTED interrupted/);
});

test('a read error mid-file is reported as before and stops the worker', async (t) => {
  const dir = await tempDir(t);
  // a folder opens for reading but every read fails (EISDIR)
  const r = child(`
    await sealFile(${JSON.stringify(dir)}, ${JSON.stringify(fileOf(dir))}, [Buffer.from('h')], Buffer.alloc(32, 1))
      .then(() => console.log('finished?!'), (e) => console.log('rejected:', e.code, e.message));
  `);
  assert.equal(r.signal, null, `the process exits by itself (${r.out})`);
  assert.ok(r.out.includes(`rejected: E_IO ${dir}: `), `the source is named: ${r.out}`);
});
