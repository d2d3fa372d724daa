/**
 * Interrupted copies: `qnb copy` is killed (SIGKILL) at random points, a bounded number of times,
 * to a folder and to S3. After every kill, no set on the target looks complete unless every one
 * of its files is there byte for byte; a final run finishes the copy, the next run sends nothing,
 * and no temp files or unfinished multipart uploads are left. SIGINT stops cleanly (exit 130).
 * The seed is printed; QNB_TEST_SEED replays a run.
 */
import assert from 'node:assert/strict';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TEMP_PREFIX } from '../../src/core/fs-safe.js';
import type { CopyBackend } from '../../src/storage/backend.js';
import { createDirBackend } from '../../src/storage/dir/dir-backend.js';
import { createS3Backend, type S3Backend } from '../../src/storage/s3/s3-backend.js';
import { qnbEnv, runQnb, startQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { tempDir } from '../helpers/tmp.js';
import { S3_KIND, type S3TestServer, s3ServerAvailable, startS3TestServer } from '../servers/s3/s3-server.js';
import { checkTargetInvariant, syntheticRepository } from '../suites/copy-fixtures.js';

const avail = s3ServerAvailable();
if (!avail.ok && IN_CI) throw new Error(`an S3 server (${S3_KIND}) is required in CI: ${avail.hint}`);
let server: S3TestServer | undefined;
after(async () => server?.stop());

const SEED = Number(process.env.QNB_TEST_SEED ?? Date.now() % 100_000);
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

interface World {
  cwd: string;
  arg: string;
  env: NodeJS.ProcessEnv;
  backend: CopyBackend;
  leftovers(): Promise<string[]>;
}

/** Temp files anywhere below `root`. */
const tempFilesIn = async (root: string) =>
  (await readdir(root, { recursive: true })).filter((f) =>
    f.split('/').some((s) => s.startsWith(TEMP_PREFIX)),
  );

async function world(t: { after(fn: () => unknown): void }, kind: Kind): Promise<World> {
  const cwd = await tempDir(t, 'qnb-copy-kill-');
  await syntheticRepository(join(cwd, 'backups'), { sets: 3, bytes: 24 * 1024 * 1024 });
  if (kind !== 's3') {
    const root = join(cwd, 'usb');
    await mkdir(root);
    // no temp file in the backups folder either (encrypted copies once went through one there)
    const leftovers = async () => [
      ...(await tempFilesIn(root)),
      ...(await tempFilesIn(join(cwd, 'backups'))),
    ];
    const { generateIdentity, identityToRecipient } = await import('age-encryption');
    const age =
      kind === 'dir+age' ? { QNB_AGE_RECIPIENTS: await identityToRecipient(await generateIdentity()) } : {};
    return { cwd, arg: 'usb', env: qnbEnv(age), backend: createDirBackend({ root }), leftovers };
  }
  server ??= await startS3TestServer();
  const bucket = `qnb-kill-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await server.createBucket(bucket);
  const backend: S3Backend = await createS3Backend({
    bucket,
    prefix: 'lab',
    endpoint: server.endpoint,
    region: server.region,
    accessKeyId: server.accessKey,
    secretAccessKey: server.secretKey,
    partSize: 5 * 1024 * 1024,
    concurrency: 4,
  });
  t.after(() => backend.close());
  return {
    cwd,
    arg: `s3://${bucket}/lab`,
    env: qnbEnv({ ...server.env(), QNB_S3_PART_SIZE_MB: '5' }),
    backend,
    leftovers: () => backend.incompleteUploads(),
  };
}

type Kind = 'dir' | 's3' | 'dir+age';

for (const kind of ['dir', 's3', 'dir+age'] as const) {
  const skip = kind === 's3' && !avail.ok ? `S3 server missing — ${avail.hint}` : false;
  describe(`interrupted copy to ${kind}`, { skip, timeout: 600_000 }, () => {
    test('SIGKILL at random points never leaves a set that looks complete; the next run finishes it', async (t) => {
      const w = await world(t, kind);
      const random = rng(SEED + (kind === 'dir' ? 0 : 1));
      t.diagnostic(`seed ${SEED} (QNB_TEST_SEED replays it)`);
      const kills: string[] = [];
      for (let i = 0; i < 6; i++) {
        // S3 runs are slower (SDK start-up, HTTP): a wider window lets some kills land after a manifest
        const delay = Math.floor(150 + random() * (kind === 'dir' ? 1500 : 3500));
        const proc = startQnb(['copy', '--to', w.arg], { cwd: w.cwd, env: w.env });
        const exited = await Promise.race([proc.done.then(() => true), sleep(delay).then(() => false)]);
        if (!exited) proc.child.kill('SIGKILL');
        const r = await proc.done;
        const complete = await checkTargetInvariant(w.backend);
        kills.push(
          `${delay} ms → ${exited ? `exited ${r.code}` : 'killed'}, ${complete.length} set(s) complete`,
        );
        if (exited) {
          assert.equal(r.code, 0, r.stderr);
          // finished before the kill: start over from an empty target, for more kill points
          const all: string[] = [];
          for await (const o of w.backend.list('')) all.push(o.key);
          for (const k of all.sort().reverse()) await w.backend.remove(k);
        }
      }
      t.diagnostic(kills.join('; '));
      const done = await runQnb(['copy', '--to', w.arg], { cwd: w.cwd, env: w.env });
      assert.equal(done.code, 0, done.stderr + done.stdout);
      assert.equal((await checkTargetInvariant(w.backend)).length, 3);
      const again = await runQnb(['copy', '--to', w.arg, '--json'], { cwd: w.cwd, env: w.env });
      assert.equal(again.code, 0);
      assert.equal((JSON.parse(again.stdout) as { sentFiles: number }).sentFiles, 0);
      assert.deepEqual(await w.leftovers(), [], 'no temp files or unfinished uploads left');
    });

    test('SIGINT stops at once with exit 130, no set half-listed, and the rest is sent next time', async (t) => {
      const w = await world(t, kind);
      const proc = startQnb(['copy', '--to', w.arg], { cwd: w.cwd, env: w.env });
      let seen = '';
      proc.child.stderr!.on('data', (d) => {
        seen += d;
      });
      const deadline = Date.now() + 60_000;
      while (!seen.includes('upload') && Date.now() < deadline) await sleep(10);
      await sleep(150);
      proc.child.kill('SIGINT');
      const r = await proc.done;
      assert.equal(r.code, 130, r.stderr);
      const complete = await checkTargetInvariant(w.backend);
      assert.ok(complete.length < 3);
      assert.deepEqual(await w.leftovers(), [], 'the interrupted upload was cleaned up');
      const done = await runQnb(['copy', '--to', w.arg], { cwd: w.cwd, env: w.env });
      assert.equal(done.code, 0, done.stderr);
      assert.equal((await checkTargetInvariant(w.backend)).length, 3);
    });
  });
}
