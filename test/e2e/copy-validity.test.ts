/**
 * A copy destination is judged by the same rules as the backups folder, through the real qnb
 * binary: a copy whose manifest records a failed restore drill (a destination filled by mirroring
 * a backups folder, or a drill that failed after the copy) is listed NOT VALID by `list --remote`,
 * and `prune --remote` neither counts it as the newest valid backup nor deletes the good one
 * before it. Before one Repository judged both places, the remote scan skipped that rule.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { SetManifest } from '../../src/core/manifest.js';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { markDrillFailed, syntheticRepository } from '../suites/copy-fixtures.js';

interface Listed {
  backups: { file: string; valid: boolean; problem?: string }[];
}

test('a failed verification recorded on a destination: list --remote says NOT VALID, prune --remote keeps the good copy', async (t) => {
  const cwd = await tempDir(t);
  const backupDir = join(cwd, 'backups');
  const sets = await syntheticRepository(backupDir, { sets: 3, bytes: 4096 });
  const dest = join(cwd, 'usb-drive');
  await mkdir(dest);
  const env = qnbEnv({ QNB_BACKUP_DIR: backupDir });
  const qnb = (args: string[]) => runQnb(args, { cwd, env });
  const copied = await qnb(['copy', '--to', dest]);
  assert.equal(copied.code, 0, copied.stderr + copied.stdout);

  // the newest set's manifest on the drive records that its Qdrant snapshot failed a restore drill
  const manifestPath = join(dest, 'sets', `${sets[2]!.id}.json`);
  const newest = JSON.parse(await readFile(manifestPath, 'utf8')) as SetManifest;
  const bad = markDrillFailed(newest, 'drill: 3 points missing');
  await writeFile(manifestPath, `${JSON.stringify(newest, null, 2)}\n`);
  const qdrantFiles = sets.map((s) => s.artifacts.find((a) => a.target === 'qdrant')!.file);

  const listed = await qnb(['list', '--remote', dest, '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const byFile = new Map((JSON.parse(listed.stdout) as Listed).backups.map((b) => [b.file, b]));
  assert.equal(byFile.get(bad.file)?.valid, false);
  assert.equal(byFile.get(bad.file)?.problem, 'failed verification: drill: 3 points missing');
  assert.equal(byFile.get(qdrantFiles[1]!)?.valid, true);
  const text = await qnb(['list', '--remote', dest]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /✘ NOT VALID: failed verification: drill: 3 points missing/);

  const pruned = await qnb(['prune', '--remote', dest, '--keep-last', '1']);
  assert.equal(pruned.code, 0, pruned.stderr + pruned.stdout);
  const left = await qnb(['list', '--remote', dest, '--json']);
  const files = (JSON.parse(left.stdout) as Listed).backups.map((b) => b.file);
  assert.ok(files.includes(qdrantFiles[1]!), `the newest good Qdrant copy is kept: ${files.join(', ')}`);
  assert.ok(files.includes(bad.file), 'the failed copy is not valid, so retention leaves it alone');
  assert.ok(!files.includes(qdrantFiles[0]!), 'the older good copy goes, as keep-last 1 says');
  await readFile(join(dest, qdrantFiles[1]!));
});

test('a set manifest on the destination that is not valid JSON: copy fails that set, verify --from names it', async (t) => {
  const cwd = await tempDir(t);
  const backupDir = join(cwd, 'backups');
  const [set] = await syntheticRepository(backupDir, { sets: 1, bytes: 4096 });
  const dest = join(cwd, 'usb-drive');
  await mkdir(dest);
  const qnb = (args: string[]) => runQnb(args, { cwd, env: qnbEnv({ QNB_BACKUP_DIR: backupDir }) });
  assert.equal((await qnb(['copy', '--to', dest])).code, 0);
  const key = `sets/${set!.id}.json`;
  await writeFile(join(dest, key), '{');

  const copied = await qnb(['copy', '--to', dest]);
  assert.notEqual(copied.code, 0, 'not "already there"');
  assert.match(copied.stdout + copied.stderr, new RegExp(`${key}.*not valid JSON.*move that manifest away`));
  const verified = await qnb(['verify', '--from', dest]);
  assert.notEqual(verified.code, 0);
  assert.match(verified.stdout, new RegExp(`❌ ${key}: not valid JSON.*qnb copy --to`));
});

test('verify --from records a damaged copy on the destination: prune --remote keeps the older good one, copy sends the damaged one again', async (t) => {
  const cwd = await tempDir(t);
  const backupDir = join(cwd, 'backups');
  const sets = await syntheticRepository(backupDir, { sets: 2, bytes: 4096 });
  const dest = join(cwd, 'usb-drive');
  await mkdir(dest);
  const qnb = (args: string[]) => runQnb(args, { cwd, env: qnbEnv({ QNB_BACKUP_DIR: backupDir }) });
  assert.equal((await qnb(['copy', '--to', dest])).code, 0);
  const [older, newest] = sets.map((s) => s.artifacts.find((a) => a.target === 'qdrant')!.file) as [
    string,
    string,
  ];
  // the newest Qdrant copy rots on the drive, its size unchanged
  const rotten = await readFile(join(dest, newest));
  rotten[100] = rotten[100]! ^ 0xff;
  await writeFile(join(dest, newest), rotten);
  const valid = async () =>
    new Map(
      (JSON.parse((await qnb(['list', '--remote', dest, '--json'])).stdout) as Listed).backups.map((b) => [
        b.file,
        b.valid,
      ]),
    );
  assert.equal((await valid()).get(newest), true, 'by size alone it still looks valid');

  const verified = await qnb(['verify', '--from', dest]);
  assert.notEqual(verified.code, 0);
  assert.match(verified.stdout, new RegExp(`❌ ${newest.replace(/[.]/g, '\\.')}.*sha256 differs`));
  assert.equal((await valid()).get(newest), false, 'the failure is recorded on the destination');

  const pruned = await qnb(['prune', '--remote', dest, '--keep-last', '1']);
  assert.equal(pruned.code, 0, pruned.stderr + pruned.stdout);
  assert.equal((await valid()).get(older), true, 'the older good copy is kept, not the damaged newest');

  const again = await qnb(['copy', '--to', dest]);
  assert.equal(again.code, 0, again.stderr + again.stdout);
  assert.deepEqual(await readFile(join(dest, newest)), await readFile(join(backupDir, newest)));
  assert.equal((await qnb(['verify', '--from', dest])).code, 0);
  assert.equal((await valid()).get(newest), true);
});
