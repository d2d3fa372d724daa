/**
 * One step of qnb's own code, run as a separate process so GNU time measures it alone (plain
 * Node on the built dist/, no tsx):
 *
 *   node bench/lib/s3-steps.mjs fetch BACKUPS_DIR s3://BUCKET/PREFIX   the restore download of the
 *        newest set (fetchSet: ranged parallel GETs, sha256 + size checked, fsync, manifest; an
 *        encrypted copy decrypted with the identities in QNB_AGE_IDENTITY_FILE)
 *   node bench/lib/s3-steps.mjs encrypt SOURCE DEST RECIPIENT SIZE SHA256   encryptFile alone (DEST
 *        `-`: planEncryption, the first pass of an encrypted copy, which writes nothing)
 *
 * S3 endpoint and keys come from QNB_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
 */
import { threadSampler } from './thread-cpu.mjs';

const dist = new URL('../../dist/', import.meta.url);
const [step, ...args] = process.argv.slice(2);

if (step === 'fetch') {
  const [root, url] = args;
  const { createRepository } = await import(new URL('core/repository.js', dist));
  const { fetchSet } = await import(new URL('core/remote-fetch.js', dist));
  const { silentReporter } = await import(new URL('core/events.js', dist));
  const { createS3Backend } = await import(new URL('storage/s3/s3-backend.js', dist));
  const { parseS3Url } = await import(new URL('storage/s3/s3-config.js', dist));
  const repo = createRepository(root);
  await repo.init();
  const threads = threadSampler();
  const backend = await createS3Backend({
    ...parseS3Url(url),
    endpoint: process.env.QNB_S3_ENDPOINT,
    region: 'us-east-1',
    accessKeyId: process.env.AWS_ACCESS_KEY_ID,
    secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
    partSize: Number(process.env.QNB_S3_PART_SIZE_MB ?? 8) * 1024 * 1024,
    concurrency: Number(process.env.QNB_S3_CONCURRENCY ?? 3),
  });
  // an encrypted copy: the identities of QNB_AGE_IDENTITY_FILE, as `qnb restore --from` reads them
  const idFile = process.env.QNB_AGE_IDENTITY_FILE;
  const identities = idFile
    ? (await import('node:fs')).readFileSync(idFile, 'utf8').match(/AGE-SECRET-KEY-1\S+/g)
    : undefined;
  const r = await fetchSet(
    repo,
    backend,
    url,
    { latest: true },
    { reporter: silentReporter, now: () => new Date() },
    identities ?? undefined,
  );
  await backend.close();
  threads.report();
  if (!r) process.exit(1);
} else if (step === 'encrypt') {
  const [source, dest, recipient, size, sha256] = args;
  const { encryptFile, planEncryption } = await import(new URL('core/age.js', dist));
  const threads = threadSampler();
  const expect = { bytes: Number(size), sha256, what: source };
  const opts = { onProgress: (n) => n === Number(size) && threads.sample() };
  // DEST `-`: the encrypted copy's first pass (plaintext checked, ciphertext hashed, nothing written)
  if (dest === '-') await planEncryption(source, [recipient], expect, opts);
  else await encryptFile(source, dest, [recipient], expect, opts);
  threads.report();
} else {
  console.error('usage: s3-steps.mjs fetch|encrypt …');
  process.exit(2);
}
