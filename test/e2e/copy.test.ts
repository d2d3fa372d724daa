/**
 * Off-site copies end to end through the real qnb binary, to a folder and to a real S3 server:
 * backup → copy (dry run, real, again: nothing sent) → list --remote → local backups deleted →
 * restore-qdrant --from brings the collection back, verified. Plus prune --remote, backup-all
 * --copy-to, a corrupt local file, a corrupt copy, and bad input (one clear line, no secrets).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { dirTarget, useS3 } from '../helpers/copy-targets.js';
import { dumpCollection } from '../helpers/qdrant-data.js';
import { createQnbWorld, errorLines, hasStackTrace } from '../helpers/qnb-world.js';

const S3 = useS3();
const s3 = S3.server;
const s3Target = S3.target;
const skipS3 = S3.skip;

for (const kind of ['dir', 's3'] as const) {
  describe(`copy to ${kind}`, { skip: kind === 's3' ? skipS3 : false, timeout: 300_000 }, () => {
    test('backup → copy → local copy deleted → restore --from brings the collection back', async (t) => {
      const world = await createQnbWorld(t, { papers: 30, chunks: 40 });
      const target = kind === 'dir' ? await dirTarget(world) : await s3Target();
      const qnb = (args: string[]) => world.qnb(args, target.env);
      assert.equal((await qnb(['backup-qdrant'])).code, 0);
      const local = await world.listed();
      assert.equal(local.length, 2);

      const dry = await qnb(['copy', '--to', target.arg, '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /would send: qdrant\/papers-backup-\d{8}-\d{6}\.snapshot/);
      assert.deepEqual(await target.keys(), [], 'a dry run sends nothing');

      const run = await qnb(['copy', '--to', target.arg]);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /✅ \d{8}-\d{6}-[0-9a-f]{4}: copied 2 file\(s\)/);
      assert.match(run.stdout, /Verified by: sha256/);
      const keys = await target.keys();
      assert.equal(keys.filter((k) => k.startsWith('qdrant/')).length, 2);
      assert.equal(keys.filter((k) => k.startsWith('sets/')).length, 1);

      const again = await qnb(['copy', '--to', target.arg, '--json']);
      assert.equal(again.code, 0);
      const report = JSON.parse(again.stdout) as { sentFiles: number; sets: { action: string }[] };
      assert.equal(report.sentFiles, 0, 'a second run sends nothing');
      assert.deepEqual(
        report.sets.map((s) => s.action),
        ['present'],
      );

      const listed = await qnb(['list', '--remote', target.arg, '--json']);
      assert.equal(listed.code, 0, listed.stderr);
      const remote = (
        JSON.parse(listed.stdout) as { backups: { file: string; valid: boolean; sha256: string }[] }
      ).backups;
      assert.deepEqual(
        remote.map((b) => [b.file, b.valid, b.sha256]).sort(),
        local.map((b) => [b.file, b.valid, b.sha256]).sort(),
      );

      const before = await dumpCollection(world.client, 'papers');
      await rm(world.backupDir, { recursive: true, force: true });
      await world.client.deleteCollection('papers');
      const restored = await qnb([
        'restore-qdrant',
        '--from',
        target.arg,
        '--latest',
        '--collection',
        'papers',
      ]);
      assert.equal(restored.code, 0, restored.stderr + restored.stdout);
      assert.match(restored.stdout, /Points: 30 \(manifest: 30\) ✔/);
      assert.match(restored.stdout, /Fetched: qdrant\/papers-backup-.* \(sha256 verified/);
      assert.deepEqual(await dumpCollection(world.client, 'papers'), before);
      const back = await world.listed();
      assert.equal(back.length, 1, 'the fetched snapshot is a valid local backup again');
      assert.ok(back[0]!.valid);
      assert.ok(!(restored.stdout + restored.stderr).includes(target.env.AWS_SECRET_ACCESS_KEY ?? '\u0000'));
    });

    test('prune --remote: same planner, newest kept, unknown objects untouched', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = kind === 'dir' ? await dirTarget(world) : await s3Target();
      const qnb = (args: string[]) => world.qnb(args, target.env);
      for (let i = 0; i < 3; i++) {
        assert.equal((await qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
        await new Promise((r) => setTimeout(r, 1100)); // distinct file names (seconds)
      }
      assert.equal((await qnb(['copy', '--to', target.arg])).code, 0);
      if (kind === 'dir') await writeFile(join(world.cwd, 'usb-drive', 'qdrant', 'notes.txt'), 'mine');
      const dry = await qnb(['prune', '--remote', target.arg, '--keep-last', '1', '--dry-run']);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /Would remove 2 backup\(s\)/);
      assert.equal((await target.keys()).filter((k) => k.endsWith('.snapshot')).length, 3);
      const run = await qnb(['prune', '--remote', target.arg, '--keep-last', '1']);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /Removed 2 backup\(s\)/);
      const keys = await target.keys();
      assert.equal(keys.filter((k) => k.endsWith('.snapshot')).length, 1);
      assert.equal(
        keys.filter((k) => k.startsWith('sets/')).length,
        3,
        'manifests stay, with `pruned` entries',
      );
      if (kind === 'dir') assert.ok(keys.includes('qdrant/notes.txt'), 'unknown files are never touched');
      const listed = JSON.parse((await qnb(['list', '--remote', target.arg, '--json'])).stdout) as {
        backups: { valid: boolean }[];
      };
      assert.deepEqual(
        listed.backups.map((b) => b.valid),
        [true],
      );
      const local = await world.listed();
      assert.equal(local.length, 3, 'local backups untouched');
    });

    test('backup-all --copy-to: backup, copy, then retention', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = kind === 'dir' ? await dirTarget(world) : await s3Target();
      const run = await world.qnb(['backup-all', '--skip-neo4j', '--copy-to', target.arg], target.env);
      assert.equal(run.code, 0, run.stderr + run.stdout);
      assert.match(run.stdout, /=== Backup Results ===/);
      assert.match(run.stdout, /✅ .*: copied 2 file\(s\)/);
      assert.match(run.stdout, /Retention: removed 0 old backup\(s\)/);
      assert.equal((await target.keys()).filter((k) => k.startsWith('sets/')).length, 1);
    });

    test('a corrupt local file fails its set clearly; other sets are copied; the copy never looks complete', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = kind === 'dir' ? await dirTarget(world) : await s3Target();
      const qnb = (args: string[]) => world.qnb(args, target.env);
      assert.equal((await qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal((await qnb(['backup-qdrant', '-c', 'chunks'])).code, 0);
      const papers = (await world.listed()).find((b) => b.name === 'papers')!;
      const path = join(world.backupDir, papers.file);
      const bytes = await readFile(path);
      bytes[bytes.length >> 1]! ^= 0xff; // same size, other bytes
      await writeFile(path, bytes);
      const run = await qnb(['copy', '--to', target.arg]);
      assert.equal(run.code, 4, run.stderr + run.stdout);
      assert.match(run.stdout, /✅ .*: copied 1 file/);
      assert.deepEqual(errorLines(run).length, 1);
      assert.match(
        errorLines(run)[0]!,
        /sha256 of the bytes read differs from the manifest; nothing stored — the source file is corrupt: run `qnb verify`/,
      );
      assert.ok(!hasStackTrace(run));
      const keys = await target.keys();
      assert.ok(!keys.includes(papers.file), 'the corrupt file was not stored');
      assert.equal(keys.filter((k) => k.startsWith('sets/')).length, 1, 'only the good set has a manifest');
    });
  });
}

describe('copy: damaged copies', { timeout: 300_000 }, () => {
  test('restore --from refuses a corrupt copy; copy never overwrites other bytes under the same name', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    const target = await dirTarget(world);
    assert.equal((await world.qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
    assert.equal((await world.qnb(['copy', '--to', target.arg])).code, 0);
    const [entry] = await world.listed();
    const good = await world.qnb(['verify', '--from', target.arg]);
    assert.equal(good.code, 0, good.stdout + good.stderr);
    assert.match(good.stdout, /✅ qdrant\/papers-backup-.*\.snapshot \(sha256; read back from .*usb-drive\)/);
    const remotePath = join(world.cwd, 'usb-drive', entry!.file);
    const bytes = await readFile(remotePath);
    bytes[100]! ^= 0xff;
    await writeFile(remotePath, bytes);
    await rm(world.backupDir, { recursive: true, force: true });
    const before = await dumpCollection(world.client, 'papers');
    const restoreLatest = () =>
      world.qnb(['restore-qdrant', '--from', target.arg, '--latest', '-c', 'papers', '--yes']);
    // not verified since it rotted: the restore finds out as it reads, before anything changes
    const run = await restoreLatest();
    assert.equal(run.code, 4, run.stdout + run.stderr);
    assert.deepEqual(errorLines(run).length, 1);
    assert.match(
      errorLines(run)[0]!,
      /the copy is corrupt \(sha256 differs from its manifest\); nothing was restored/,
    );
    assert.deepEqual(await dumpCollection(world.client, 'papers'), before, 'the collection was not touched');
    assert.deepEqual(
      (await readdir(join(world.backupDir, 'qdrant'))).filter((f) => f.endsWith('.snapshot')),
      [],
      'no partial download left',
    );
    // verify --from proves it and records it on the destination: from then on it is not a candidate
    const bad = await world.qnb(['verify', '--from', target.arg]);
    assert.equal(bad.code, 4, bad.stdout + bad.stderr);
    assert.match(
      bad.stdout,
      /❌ qdrant\/papers-backup-.*: sha256 differs from the manifest \(the copy is corrupt\)/,
    );
    const none = await restoreLatest();
    assert.notEqual(none.code, 0);
    assert.match(errorLines(none)[0]!, /no valid Qdrant backup of "papers" on .*usb-drive/);
    assert.deepEqual(await dumpCollection(world.client, 'papers'), before, 'still not touched');

    // a new local backup whose name is taken on the target by other bytes (another machine's)
    assert.equal((await world.qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
    const [fresh] = await world.listed();
    await writeFile(join(world.cwd, 'usb-drive', fresh!.file), 'another machine wrote this');
    const copy = await world.qnb(['copy', '--to', target.arg]);
    assert.equal(copy.code, 2, copy.stdout + copy.stderr);
    assert.match(
      errorLines(copy)[0]!,
      /exists on .*usb-drive with other content; not overwritten — another qnb may copy/,
    );
    assert.equal(
      await readFile(join(world.cwd, 'usb-drive', fresh!.file), 'utf8'),
      'another machine wrote this',
    );
  });
});

describe('copy: bad input gives one clear line and a non-zero exit', { timeout: 300_000 }, () => {
  test('folder targets: missing folder, read-only folder, unknown scheme', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    assert.equal((await world.qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
    const missing = await world.qnb(['copy', '--to', '/nonexistent/usb']);
    assert.equal(missing.code, 1);
    assert.deepEqual(errorLines(missing), [
      '✘ copy target /nonexistent/usb: folder does not exist — create it (mkdir) or mount the drive; qnb never creates the target folder itself',
    ]);
    const scheme = await world.qnb(['copy', '--to', 'ftp://host/x']);
    assert.equal(scheme.code, 2);
    assert.match(errorLines(scheme)[0]!, /ftp:\/\/ copy targets are not supported/);
    if (process.getuid?.() === 0) {
      const ro = await mkdtemp(join(tmpdir(), 'qnb-ro-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro]);
      t.after(async () => {
        execFileSync('umount', ['-l', ro]);
        await rm(ro, { recursive: true, force: true });
      });
      const run = await world.qnb(['copy', '--to', ro]);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.deepEqual(errorLines(run), [
        `✘ copy target ${ro}: read-only file system — mount the drive read-write, or choose another --to folder`,
      ]);
      assert.ok(!hasStackTrace(run));
    }
  });

  test('S3: unknown bucket, wrong keys, unreachable endpoint, no credentials', {
    skip: skipS3,
  }, async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    const srv = await s3();
    assert.equal((await world.qnb(['backup-qdrant', '-c', 'papers'])).code, 0);
    const nobucket = await world.qnb(['copy', '--to', 's3://qnb-no-such-bucket/x'], srv.env());
    assert.equal(nobucket.code, 1);
    assert.deepEqual(errorLines(nobucket), [
      '✘ s3://qnb-no-such-bucket: bucket not found — create the bucket first, or fix the bucket name in s3://BUCKET/prefix (and QNB_S3_ENDPOINT)',
    ]);
    const bucket = S3.bucketName();
    await srv.createBucket(bucket);
    const wrongSecret = 'sk-wrong-9f8e7d6c5b4a';
    const wrong = await world.qnb(['copy', '--to', `s3://${bucket}/x`], {
      ...srv.env(),
      AWS_SECRET_ACCESS_KEY: wrongSecret,
    });
    assert.equal(wrong.code, 1);
    assert.equal(errorLines(wrong).length, 1);
    assert.match(
      errorLines(wrong)[0]!,
      /credentials rejected \(SignatureDoesNotMatch\) — check AWS_ACCESS_KEY_ID/,
    );
    assert.ok(!(wrong.stdout + wrong.stderr).includes(wrongSecret));
    assert.ok(!(wrong.stdout + wrong.stderr).includes(srv.accessKey), 'the access key is redacted too');
    const { freePort } = await import('../servers/s3/s3-server.js');
    const port = await freePort();
    const down = await world.qnb(['copy', '--to', `s3://${bucket}/x`], {
      ...srv.env(),
      QNB_S3_ENDPOINT: `http://127.0.0.1:${port}`,
    });
    assert.equal(down.code, 1);
    assert.equal(errorLines(down).length, 1);
    assert.match(
      errorLines(down)[0]!,
      /cannot reach the server \(ECONNREFUSED\) — is the S3 server running\? check QNB_S3_ENDPOINT/,
    );
    const ro = await srv.readOnlyUser(bucket);
    if (typeof ro !== 'string') {
      const denied = await world.qnb(['copy', '--to', `s3://${bucket}/x`], {
        ...srv.env(),
        AWS_ACCESS_KEY_ID: ro.accessKey,
        AWS_SECRET_ACCESS_KEY: ro.secretKey,
      });
      assert.equal(denied.code, 1, denied.stdout + denied.stderr);
      assert.equal(errorLines(denied).length, 1);
      assert.match(
        errorLines(denied)[0]!,
        /: put qdrant\/papers-backup-.*: access denied — the key needs s3:ListBucket/,
      );
      assert.ok(!(denied.stdout + denied.stderr).includes(ro.secretKey));
    }
    const nocreds = await world.qnb(['copy', '--to', `s3://${bucket}/x`], { QNB_S3_ENDPOINT: srv.endpoint });
    assert.equal(nocreds.code, 2);
    assert.match(
      errorLines(nocreds)[0]!,
      /no S3 credentials — set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/,
    );
    for (const r of [nobucket, wrong, down, nocreds]) {
      assert.ok(!hasStackTrace(r));
      assert.ok(!r.stderr.includes('NodeVersionSupportWarning'), 'no SDK nag on stderr');
    }
  });
});
