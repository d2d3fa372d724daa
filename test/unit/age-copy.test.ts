/**
 * Encrypted copies without a temporary file (age.ts planEncryption + age-copy.ts encryptedStream +
 * copy-upload.ts sendEncrypted): the first pass checks the plaintext and promises size and sha256;
 * every stream of the plan is exactly those bytes, the same on every try, and opens to the
 * plaintext; a backup that changed after the plan is refused by the backend's check; a retried
 * upload sends the same bytes; a destroyed stream stops its worker. (The age CLI decrypting such a
 * stream: test/integration/age-interop.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { decryptToFile, planEncryption } from '../../src/core/age.js';
import { encryptedStream } from '../../src/core/age-copy.js';
import { PLAIN_SLOT, SLOTS } from '../../src/core/age-seal-worker.js';
import { sendEncrypted } from '../../src/core/copy-upload.js';
import { QnbError } from '../../src/core/errors.js';
import { silentReporter } from '../../src/core/events.js';
import type { RepoArtifact } from '../../src/core/repository.js';
import { createMemoryBackend } from '../../src/storage/memory/memory-backend.js';
import { tempDir } from '../helpers/tmp.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const identity = await generateIdentity();
const recipient = await identityToRecipient(identity);
const read = async (s: Readable) => {
  const parts: Buffer[] = [];
  for await (const p of s) parts.push(p as Buffer);
  return Buffer.concat(parts);
};
async function* once(b: Buffer) {
  yield b;
}

test('every stream of a plan is the promised bytes, the same each time, and opens to the plaintext', async (t) => {
  const dir = await tempDir(t);
  const sizes = [0, 1, PLAIN_SLOT + 1, 2 * SLOTS * PLAIN_SLOT + 5];
  for (const size of sizes) {
    const data = randomBytes(size);
    const src = join(dir, `p${size}`);
    await writeFile(src, data);
    const plan = await planEncryption(src, [recipient], { bytes: size, sha256: sha(data), what: 'p' });
    const first = await read(encryptedStream(plan));
    const second = await read(encryptedStream(plan));
    assert.equal(first.length, plan.cipher.bytes, `${size}: the promised size`);
    assert.equal(sha(first), plan.cipher.sha256, `${size}: the promised sha256`);
    assert.ok(first.equals(second), `${size}: a second try streams the same bytes`);
    const back = join(dir, `b${size}`);
    const got = await decryptToFile(Readable.from(once(first)), back, [identity], 'p.age');
    assert.equal(got.plain.sha256, sha(data), `${size}: decrypts to the plaintext`);
  }
  assert.deepEqual(
    (await readdir(dir)).sort(),
    sizes.flatMap((n) => [`b${n}`, `p${n}`]).sort(),
    'no other file written',
  );
});

test('the first pass refuses a backup that differs from its manifest', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(3 * PLAIN_SLOT);
  const src = join(dir, 'p');
  await writeFile(src, data);
  const wrong = Buffer.from(data);
  wrong[PLAIN_SLOT + 7]! ^= 1;
  await assert.rejects(
    planEncryption(src, [recipient], { bytes: data.length, sha256: sha(wrong), what: 'docs.snapshot' }),
    (e: QnbError) =>
      e.code === 'E_CHECKSUM' && /docs\.snapshot: the bytes read differ from the manifest/.test(e.message),
  );
});

/** A backup set of one artifact at `path`, as copy sees it. */
function artifactOf(path: string, data: Buffer): RepoArtifact {
  return {
    path,
    valid: true,
    createdAt: new Date(),
    set: {} as RepoArtifact['set'],
    artifact: {
      target: 'qdrant',
      name: 'docs',
      file: 'qdrant/docs.snapshot',
      bytes: data.length,
      sha256: sha(data),
    },
  } as unknown as RepoArtifact;
}

test('a retried upload sends the same bytes; a backup changed after the first pass is refused', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(5 * PLAIN_SLOT + 3);
  const src = join(dir, 'docs.snapshot');
  await writeFile(src, data);
  const backend = createMemoryBackend();
  const put = backend.put.bind(backend);
  const sent: Buffer[] = [];
  let tries = 0;
  backend.put = async (key, body, opts) => {
    tries++;
    const bytes = await read(body);
    sent.push(bytes);
    // the first try dies after the whole body went out (a lost answer): a retryable failure
    if (tries === 1) throw new QnbError('E_CONNECT', 'connection reset', { retryable: true });
    return put(key, Readable.from(once(bytes)), opts);
  };
  const ctx = { reporter: silentReporter, now: () => new Date() };
  const stored = await sendEncrypted(backend, artifactOf(src, data), [recipient], ctx);
  assert.equal(tries, 2);
  assert.ok(sent[0]!.equals(sent[1]!), 'the second try sends the very bytes of the first');
  const object = backend.objects.get('qdrant/docs.snapshot.age')!;
  assert.equal(stored.sha256, sha(object.data));
  const got = await decryptToFile(Readable.from(once(object.data)), join(dir, 'back'), [identity], 'x');
  assert.equal(got.plain.sha256, sha(data));

  // the backup changes between the first pass and the upload: the bytes sent are not the ones
  // promised, and the backend stores nothing
  const changed = createMemoryBackend();
  const changedPut = changed.put.bind(changed);
  changed.put = async (key, body, opts) => {
    await writeFile(src, randomBytes(data.length));
    return changedPut(key, body, opts);
  };
  await assert.rejects(
    sendEncrypted(changed, artifactOf(src, data), [recipient], ctx),
    (e: QnbError) => e.code === 'E_CHECKSUM',
  );
  assert.equal(changed.objects.size, 0, 'nothing stored');
});

test('an interrupt during the upload stops the sealing worker: the process exits by itself', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(24 * PLAIN_SLOT);
  const src = join(dir, 'p');
  await writeFile(src, data);
  const mod = (f: string) => JSON.stringify(fileURLToPath(new URL(`../../src/core/${f}`, import.meta.url)));
  const script = `
    import { planEncryption } from ${mod('age.ts')};
    import { encryptedStream } from ${mod('age-copy.ts')};
    const plan = await planEncryption(${JSON.stringify(src)}, [${JSON.stringify(recipient)}], {
      bytes: ${data.length}, sha256: ${JSON.stringify(sha(data))}, what: 'p' });
    // a reader that gives up after 3 MiB (destroy), and one interrupted by the caller's signal
    const s = encryptedStream(plan);
    let n = 0;
    for await (const c of s) { n += c.length; if (n > 3 << 20) break; }
    console.log('destroyed:', s.destroyed);
    const ac = new AbortController();
    const s2 = encryptedStream(plan, ac.signal);
    n = 0;
    await (async () => { for await (const c of s2) { n += c.length; if (n > 3 << 20) ac.abort(); } })()
      .then(() => console.log('finished?!'), (e) => console.log('rejected:', e.code));
    // no process.exit: a worker left running would keep this process alive until the timeout
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  assert.equal(r.signal, null, `the process exits by itself (${out})`);
  assert.equal(r.status, 0, out);
  assert.match(out, /destroyed: true/);
  assert.match(out, /rejected: E_INTERRUPTED/);
});
