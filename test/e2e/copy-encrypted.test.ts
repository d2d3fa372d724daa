/**
 * Encrypted off-site copies (age) end to end through the real qnb binary, to a folder and to a
 * real S3 server: with QNB_AGE_RECIPIENTS every copy is an age file the `age` CLI decrypts;
 * list/prune/verify work without the identity; restore needs it (clear line without, or with a
 * wrong one) and brings the collection back with it; the identity never shows in any output or
 * manifest; what an interrupted encrypted copy left is replaced, what a manifest references never is.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { requireComponent } from '../helpers/components.js';
import { dirTarget, useS3 } from '../helpers/copy-targets.js';
import { dumpCollection } from '../helpers/qdrant-data.js';
import { createQnbWorld, errorLines, hasStackTrace, type QnbWorld } from '../helpers/qnb-world.js';

const S3 = useS3();
const targetFor = (kind: 'dir' | 's3', world: QnbWorld) => (kind === 'dir' ? dirTarget(world) : S3.target());
const hasAge = spawnSync('age-keygen', ['--version']).status === 0;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A key pair written by age-keygen into the world's folder. */
function keyPair(world: QnbWorld, name: string) {
  const file = join(world.cwd, `${name}.key`);
  execFileSync('age-keygen', ['-o', file], { stdio: 'ignore' });
  const recipient = execFileSync('age-keygen', ['-y', file], { encoding: 'utf8' }).trim();
  return { file, recipient };
}

for (const kind of ['dir', 's3'] as const) {
  const skip = kind === 's3' ? S3.skip : false;
  describe(`encrypted copy to ${kind}`, { skip, timeout: 300_000 }, () => {
    test('age files on the target; list/verify without the identity; restore needs it', async (t) => {
      if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
      const world = await createQnbWorld(t, { papers: 30, chunks: 10 });
      const target = await targetFor(kind, world);
      const key = keyPair(world, 'backup');
      const identity = (await readFile(key.file, 'utf8')).match(/AGE-SECRET-KEY-1\S+/)![0];
      const outputs: string[] = [];
      const qnb = async (args: string[], extra: Record<string, string> = {}) => {
        const r = await world.qnb(args, { ...target.env, QNB_AGE_RECIPIENTS: key.recipient, ...extra });
        outputs.push(r.stdout + r.stderr);
        return r;
      };
      assert.equal((await qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
      const [local] = await world.listed();

      const run = await qnb(['copy', '--to', target.arg]);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(
        run.stdout,
        /Encrypted with age to 1 recipient\(s\) \(age1.{8}…\); restoring needs the identity\./,
      );
      const keys = await target.keys();
      assert.deepEqual(
        keys.filter((k) => !k.startsWith('sets/')),
        [`${local!.file}.age`],
        'only the encrypted object, never the plain file',
      );
      const stored = await target.read(`${local!.file}.age`);
      const plainLocal = await readFile(join(world.backupDir, local!.file));
      assert.ok(!stored.includes(plainLocal.subarray(0, 256)), 'no plain bytes on the target');
      const decrypted = execFileSync('age', ['-d', '-i', key.file], { input: stored, maxBuffer: 256 << 20 });
      assert.equal(sha(decrypted), local!.sha256, 'the age CLI decrypts the copy to the backup');

      const manifestKey = keys.find((k) => k.startsWith('sets/'))!;
      const manifest = JSON.parse((await target.read(manifestKey)).toString()) as {
        artifacts: {
          file: string;
          sha256: string;
          stored: { key: string; sha256: string; recipients: string[] };
        }[];
      };
      assert.equal(manifest.artifacts[0]!.sha256, local!.sha256, 'the manifest keeps the plain sha256');
      assert.equal(manifest.artifacts[0]!.stored.sha256, sha(stored), 'and the stored object’s');
      assert.deepEqual(manifest.artifacts[0]!.stored.recipients, [key.recipient]);

      const again = JSON.parse((await qnb(['copy', '--to', target.arg, '--json'])).stdout) as {
        sentFiles: number;
      };
      assert.equal(again.sentFiles, 0, 'nothing is sent twice');

      const listed = await qnb(['list', '--remote', target.arg]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /papers-backup-\d{8}-\d{6}\.snapshot\n.* - encrypted \(age\) - ✔/);

      const verifyNoKey = await qnb(['verify', '--from', target.arg]);
      assert.equal(verifyNoKey.code, 0, verifyNoKey.stdout + verifyNoKey.stderr);
      assert.match(verifyNoKey.stdout, /encrypted \(not decrypted: no QNB_AGE_IDENTITY\)/);
      const verifyKey = await qnb(['verify', '--from', target.arg], { QNB_AGE_IDENTITY_FILE: key.file });
      assert.equal(verifyKey.code, 0, verifyKey.stdout + verifyKey.stderr);
      assert.match(verifyKey.stdout, /read back from .*, decrypted/);

      const before = await dumpCollection(world.client, 'papers');
      await rm(world.backupDir, { recursive: true, force: true });
      await world.client.deleteCollection('papers');
      const restoreArgs = ['restore-qdrant', '--from', target.arg, '--latest', '--collection', 'papers'];
      const noKey = await qnb(restoreArgs);
      assert.equal(noKey.code, 2, noKey.stdout + noKey.stderr);
      assert.equal(errorLines(noKey).length, 1);
      assert.match(
        errorLines(noKey)[0]!,
        /papers-backup-.*\.snapshot\.age is encrypted with age; qnb needs the identity to restore it — set QNB_AGE_IDENTITY_FILE/,
      );
      const other = keyPair(world, 'other');
      const wrongKey = await qnb(restoreArgs, { QNB_AGE_IDENTITY_FILE: other.file });
      assert.equal(wrongKey.code, 1, wrongKey.stdout + wrongKey.stderr);
      assert.match(errorLines(wrongKey)[0]!, /none of the age identities can decrypt it/);
      assert.ok(!hasStackTrace(wrongKey));
      assert.deepEqual(await world.listed(), [], 'nothing half-fetched is left as a backup');

      const restored = await qnb(restoreArgs, { QNB_AGE_IDENTITY_FILE: key.file });
      assert.equal(restored.code, 0, restored.stdout + restored.stderr);
      assert.match(restored.stdout, /Points: 30 \(manifest: 30\) ✔/);
      assert.deepEqual(await dumpCollection(world.client, 'papers'), before);
      const back = await world.listed();
      assert.equal(back[0]!.sha256, local!.sha256, 'the decrypted file is the backup again');

      // the identity never appears in output, local manifests or the target's manifest
      for (const o of outputs) assert.ok(!o.includes(identity), 'identity in output');
      for (const k of await target.keys())
        if (k.startsWith('sets/')) assert.ok(!(await target.read(k)).includes(identity));
      for (const f of await readdir(join(world.backupDir, 'sets')))
        assert.ok(!(await readFile(join(world.backupDir, 'sets', f), 'utf8')).includes(identity));
    });

    test('what an interrupted encrypted copy left is replaced; an object a manifest references never is', async (t) => {
      if (!requireComponent(t, 'age CLI', hasAge, 'apt-get install age')) return;
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = await targetFor(kind, world);
      const key = keyPair(world, 'backup');
      const qnb = (args: string[]) => world.qnb(args, { ...target.env, QNB_AGE_RECIPIENTS: key.recipient });
      assert.equal((await qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
      const [local] = await world.listed();
      const objectKey = `${local!.file}.age`;
      await target.write(objectKey, 'left by a killed copy');
      const run = await qnb(['copy', '--to', target.arg]);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const decrypted = execFileSync('age', ['-d', '-i', key.file], {
        input: await target.read(objectKey),
        maxBuffer: 64 << 20,
      });
      assert.equal(sha(decrypted), local!.sha256, 'the leftover was replaced by the real copy');

      // the same object now belongs to another set's manifest, ours is gone: never overwritten
      const manifestKey = (await target.keys()).find((k) => k.startsWith('sets/'))!;
      const owner = JSON.parse((await target.read(manifestKey)).toString()) as { id: string };
      owner.id = '20200101-000000-beef';
      await target.write('sets/20200101-000000-beef.json', JSON.stringify(owner));
      await target.remove(manifestKey);
      const storedBefore = sha(await target.read(objectKey));
      const refused = await qnb(['copy', '--to', target.arg]);
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(
        errorLines(refused)[0]!,
        new RegExp(
          `${objectKey.replace(/[.]/g, '\\.')} on .* belongs to backup set 20200101-000000-beef; not overwritten`,
        ),
      );
      assert.equal(sha(await target.read(objectKey)), storedBefore, 'the referenced object is untouched');
    });

    test('backup-all --copy-to encrypts the same way', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = await targetFor(kind, world);
      const { generateIdentity, identityToRecipient } = await import('age-encryption');
      const recipient = await identityToRecipient(await generateIdentity());
      const run = await world.qnb(['backup-all', '--skip-neo4j', '--copy-to', target.arg], {
        ...target.env,
        QNB_AGE_RECIPIENTS: recipient,
      });
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const objects = (await target.keys()).filter((k) => !k.startsWith('sets/'));
      assert.equal(objects.length, 2);
      assert.ok(
        objects.every((k) => k.endsWith('.snapshot.age')),
        objects.join(', '),
      );
    });

    test('bad recipients are one clear line before anything is sent', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = await targetFor(kind, world);
      assert.equal((await world.qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
      const secret = `AGE-SECRET-KEY-1${'Q'.repeat(58)}`;
      for (const [value, message] of [
        [
          'age1nope',
          /QNB_AGE_RECIPIENTS: "age1nope" is not an age recipient \(age1…\) — give age public keys/,
        ],
        [secret, /QNB_AGE_RECIPIENTS: holds a secret key, not a recipient/],
      ] as const) {
        const run = await world.qnb(['copy', '--to', target.arg], {
          ...target.env,
          QNB_AGE_RECIPIENTS: value,
        });
        assert.equal(run.code, 2, run.stdout + run.stderr);
        assert.equal(errorLines(run).length, 1);
        assert.match(errorLines(run)[0]!, message);
        assert.ok(!(run.stdout + run.stderr).includes(secret));
      }
      assert.deepEqual(await target.keys(), [], 'nothing was sent');
    });
  });
}
