/**
 * Encrypted copies are ordinary age files: what qnb encrypts, Debian's `age` CLI decrypts, and the
 * other way round. A wrong identity, a damaged file and a changed source are clear errors.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseIdentities, parseRecipients } from '../../src/config/age-keys.js';
import { decryptToFile, encryptFile, planEncryption } from '../../src/core/age.js';
import { encryptedStream } from '../../src/core/age-copy.js';
import { PLAIN_SLOT, SLOTS } from '../../src/core/age-seal-worker.js';
import { QnbError } from '../../src/core/errors.js';
import { requireComponent } from '../helpers/components.js';
import { tempDir } from '../helpers/tmp.js';

const hasAge = spawnSync('age', ['--version']).status === 0;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function keyPair(dir: string, name: string) {
  const file = join(dir, `${name}.txt`);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  return { file, recipient, identities: parseIdentities(await readFile(file, 'utf8')) };
}

test('age CLI ⇄ qnb: each decrypts what the other encrypted (3 MiB + 17 bytes, several chunks)', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const key = await keyPair(dir, 'key');
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const src = join(dir, 'docs.snapshot');
  await writeFile(src, data);

  const enc = join(dir, 'docs.snapshot.age');
  const out = await encryptFile(src, enc, [key.recipient], {
    bytes: data.length,
    sha256: sha(data),
    what: 'docs',
  });
  const cipher = await readFile(enc);
  assert.equal(out.bytes, cipher.length);
  assert.equal(out.sha256, sha(cipher));
  assert.ok(cipher.subarray(0, 21).toString().startsWith('age-encryption.org/v1'));
  assert.ok(!cipher.includes(data.subarray(0, 64)), 'no plaintext in the encrypted file');
  const byCli = execFileSync('age', ['-d', '-i', key.file, enc], { maxBuffer: 64 << 20 });
  assert.equal(sha(byCli), sha(data), 'the age CLI decrypts what qnb encrypted');

  const cliEnc = join(dir, 'by-cli.age');
  execFileSync('age', ['-r', key.recipient, '-o', cliEnc, src]);
  const back = join(dir, 'back');
  const got = await decryptToFile(createReadStream(cliEnc), back, key.identities, 'by-cli.age');
  assert.equal(got.plain.sha256, sha(data), 'qnb decrypts what the age CLI encrypted');
  assert.equal(got.plain.bytes, data.length);
  assert.equal(got.cipher.sha256, sha(await readFile(cliEnc)), 'the encrypted bytes are hashed as read');
});

test('age CLI ⇄ qnb at chunk boundaries (0, 64 KiB, 64 KiB + 1, 128 KiB); a cut file is refused', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const key = await keyPair(dir, 'key');
  for (const size of [0, 65536, 65537, 131072]) {
    const data = randomBytes(size);
    const src = join(dir, `p${size}`);
    await writeFile(src, data);
    const enc = join(dir, `q${size}.age`);
    await encryptFile(src, enc, [key.recipient], { bytes: size, sha256: sha(data), what: 'p' });
    assert.equal(sha(execFileSync('age', ['-d', '-i', key.file, enc])), sha(data), `CLI opens qnb's ${size}`);
    const cliEnc = join(dir, `c${size}.age`);
    execFileSync('age', ['-r', key.recipient, '-o', cliEnc, src]);
    // the same layout as the CLI: header lengths differ only by the stanza, payloads not at all
    const [ours, theirs] = [await readFile(enc), await readFile(cliEnc)];
    const payload = (b: Buffer) => b.length - (b.indexOf(10, b.indexOf('\n---') + 1) + 1);
    assert.equal(payload(ours), payload(theirs), `${size} bytes: the same payload length as the CLI's`);
    const got = await decryptToFile(createReadStream(cliEnc), join(dir, `b${size}`), key.identities, 'c');
    assert.equal(got.plain.sha256, sha(data), `qnb opens the CLI's ${size}`);
  }
  // the CLI's 128 KiB file cut after its first chunk: every byte left is authentic, still refused
  const whole = await readFile(join(dir, 'c131072.age'));
  const cut = join(dir, 'cut.age');
  await writeFile(cut, whole.subarray(0, whole.length - (65536 + 16)));
  const out = join(dir, 'cut-out');
  await assert.rejects(
    decryptToFile(createReadStream(cut), out, key.identities, 'cut.age'),
    (e: QnbError) => e.code === 'E_CHECKSUM' && /cut\.age: the encrypted copy is damaged/.test(e.message),
  );
});

test('the two-thread encryption: the age CLI decrypts a file spanning the rings byte for byte; a damaged middle chunk is refused by both', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const key = await keyPair(dir, 'key');
  // more than two rings of batches: slots are reused, batches alternate between the two threads
  const data = randomBytes(2 * SLOTS * PLAIN_SLOT + PLAIN_SLOT + 5);
  const src = join(dir, 'big.snapshot');
  await writeFile(src, data);
  const enc = join(dir, 'big.snapshot.age');
  await encryptFile(src, enc, [key.recipient], { bytes: data.length, sha256: sha(data), what: 'big' });
  const byCli = execFileSync('age', ['-d', '-i', key.file, enc], { maxBuffer: 64 << 20 });
  assert.ok(byCli.equals(data), 'the age CLI gives back the same bytes');

  const cipher = await readFile(enc);
  const payloadStart = cipher.indexOf(10, cipher.indexOf('\n---') + 1) + 1 + 16;
  // chunk 16 × 3 + 5: in batch 3, sealed by the worker
  cipher[payloadStart + (3 * 16 + 5) * (65536 + 16) + 1000]! ^= 0x08;
  const bad = join(dir, 'bad.age');
  await writeFile(bad, cipher);
  assert.notEqual(spawnSync('age', ['-d', '-i', key.file, '-o', join(dir, 'cli-out'), bad]).status, 0);
  await assert.rejects(
    decryptToFile(createReadStream(bad), join(dir, 'qnb-out'), key.identities, 'bad.age'),
    (e: QnbError) => e.code === 'E_CHECKSUM' && /chunk 53 fails authentication/.test(e.message),
  );
});

test('several recipients: any one of their identities opens the copy', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const [a, b] = [await keyPair(dir, 'a'), await keyPair(dir, 'b')];
  const data = randomBytes(1000);
  const src = join(dir, 'x');
  await writeFile(src, data);
  const enc = join(dir, 'x.age');
  await encryptFile(src, enc, [a.recipient, b.recipient], { bytes: 1000, sha256: sha(data), what: 'x' });
  for (const k of [a, b]) assert.equal(sha(execFileSync('age', ['-d', '-i', k.file, enc])), sha(data));
});

test('a wrong identity, a damaged copy and a changed source are clear errors', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const [right, wrong] = [await keyPair(dir, 'right'), await keyPair(dir, 'wrong')];
  const data = randomBytes(200_000);
  const src = join(dir, 'db.dump');
  await writeFile(src, data);
  const enc = join(dir, 'db.dump.age');
  await encryptFile(src, enc, [right.recipient], { bytes: data.length, sha256: sha(data), what: 'db' });

  await assert.rejects(
    decryptToFile(createReadStream(enc), join(dir, 'o1'), wrong.identities, 'neo4j/db.dump.age'),
    (e: QnbError) =>
      e.code === 'E_AUTH' &&
      /neo4j\/db\.dump\.age: none of the age identities can decrypt it/.test(e.message),
  );

  const damaged = await readFile(enc);
  damaged[damaged.length - 5000]! ^= 0x01;
  const bad = join(dir, 'damaged.age');
  await writeFile(bad, damaged);
  await assert.rejects(
    decryptToFile(createReadStream(bad), join(dir, 'o2'), right.identities, 'damaged.age'),
    (e: QnbError) => e.code === 'E_CHECKSUM' && /damaged\.age: the encrypted copy is damaged/.test(e.message),
  );

  await assert.rejects(
    encryptFile(src, join(dir, 'o3'), [right.recipient], {
      bytes: data.length,
      sha256: sha(randomBytes(8)),
      what: 'db',
    }),
    (e: QnbError) =>
      e instanceof QnbError && e.code === 'E_CHECKSUM' && /db: the bytes read differ/.test(e.message),
  );
});

test('recipients and identities: age file format; bad values named without echoing a secret', () => {
  const r = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';
  assert.deepEqual(parseRecipients(`# laptop\n${r}\n\n${r}, ${r}`), [r]);
  assert.deepEqual(parseRecipients([r]), [r]);
  assert.throws(() => parseRecipients('age1nope'), /"age1nope" is not an age recipient/);
  assert.throws(() => parseRecipients('# only a comment'), /holds no age recipient/);
  const secret = `AGE-SECRET-KEY-1${'Q'.repeat(58)}`;
  assert.throws(
    () => parseRecipients(secret),
    (e: Error) => /holds a secret key, not a recipient/.test(e.message) && !e.message.includes(secret),
  );
  assert.deepEqual(parseIdentities(`# created: now\n# public key: ${r}\n${secret}\n`), [secret]);
  assert.throws(
    () => parseIdentities(`${secret}x!`),
    (e: Error) => /is not an age identity/.test(e.message) && !e.message.includes(secret),
  );
});

test('the age CLI decrypts what an encrypted copy streams (no temporary file)', async (t) => {
  if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
  const dir = await tempDir(t);
  const key = await keyPair(dir, 'key');
  const data = randomBytes(3 * PLAIN_SLOT + 17);
  const src = join(dir, 'p');
  await writeFile(src, data);
  const plan = await planEncryption(src, [key.recipient], {
    bytes: data.length,
    sha256: sha(data),
    what: 'p',
  });
  const parts: Buffer[] = [];
  for await (const c of encryptedStream(plan)) parts.push(c as Buffer);
  const enc = join(dir, 'p.age');
  await writeFile(enc, Buffer.concat(parts));
  assert.equal(sha(await readFile(enc)), plan.cipher.sha256, 'the bytes the first pass promised');
  const byCli = execFileSync('age', ['-d', '-i', key.file, enc], { maxBuffer: 64 << 20 });
  assert.equal(sha(byCli), sha(data), 'the age CLI decrypts them');
});
