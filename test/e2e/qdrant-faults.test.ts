/**
 * Guarantee 7 (and 1): every server fault gives a clear error and a non-zero exit, leaves no
 * file that looks valid, and leaves earlier backups untouched. Faults that a careful client
 * survives (slow, null checksum, compression, 202, a dropped connection) still give a valid backup.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { requireComponent } from '../helpers/components.js';
import { createQnbWorld, hasStackTrace, type QnbWorld } from '../helpers/qnb-world.js';
import type { FaultKind, FaultOp } from '../servers/qdrant/index.js';

async function withPreviousBackup(
  t: Parameters<typeof createQnbWorld>[0],
): Promise<{ world: QnbWorld; before: Record<string, string>; valid: string[] }> {
  const world = await createQnbWorld(t);
  const first = await world.qnb(['backup-qdrant', '--collection', 'papers']);
  assert.equal(first.code, 0, first.stderr);
  const before = await world.snapshotOfDisk();
  const valid = (await world.listed()).filter((b) => b.valid).map((b) => b.file);
  assert.equal(valid.length, 1);
  return { world, before, valid };
}

/** Files of `before` that are still there byte for byte. */
function untouched(before: Record<string, string>, after: Record<string, string>): boolean {
  return Object.entries(before).every(([f, h]) => f.startsWith('sets/') || after[f] === h);
}

const failing: [string, FaultOp, FaultKind, RegExp][] = [
  [
    'HTTP 500 on create',
    'create-snapshot',
    { kind: 'status', status: 500, message: 'boom' },
    /HTTP 500: boom/,
  ],
  ['server disk full', 'create-snapshot', { kind: 'disk-full' }, /disk is full/],
  [
    'connection reset mid-download',
    'download-snapshot',
    { kind: 'reset', afterBytes: 2000 },
    /download|socket|closed|reach|reset/i,
  ],
  [
    'body shorter than Content-Length',
    'download-snapshot',
    { kind: 'truncate', afterBytes: 3000 },
    /download|closed|bytes|length/i,
  ],
  ['wrong checksum', 'create-snapshot', { kind: 'wrong-checksum' }, /does not match the server's checksum/],
  ['HTTP 500 on download', 'download-snapshot', { kind: 'status', status: 500 }, /HTTP 500/],
];

describe('faults that must fail the backup cleanly', () => {
  for (const [name, op, fault, message] of failing) {
    test(name, async (t) => {
      const { world, before, valid } = await withPreviousBackup(t);
      world.server.inject({ op, fault, times: Number.POSITIVE_INFINITY });
      const run = await world.qnb(['backup-qdrant', '--collection', 'papers']);
      assert.equal(run.code, 1, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stdout, /❌ Qdrant \(papers\)\n {3}Error: .+/);
      assert.match(run.stdout, message);
      assert.ok(!hasStackTrace(run), run.stderr);
      world.server.clearFaults();
      const after = await world.snapshotOfDisk();
      assert.ok(untouched(before, after), 'earlier backup files unchanged');
      assert.deepEqual(
        Object.keys(after).filter((f) => f.includes('.qnb-tmp-')),
        [],
        'no temp file left',
      );
      assert.deepEqual(
        (await world.listed()).filter((b) => b.valid).map((b) => b.file),
        valid,
        'nothing new listed as valid',
      );
      const verify = await world.qnb(['verify']);
      assert.equal(verify.code, 0, verify.stdout);
    });
  }
});

describe('faults a careful client survives', () => {
  const surviving: [string, FaultOp, FaultKind, RegExp | null][] = [
    ['slow responses', 'download-snapshot', { kind: 'slow', delayMs: 400 }, null],
    ['null checksum', 'create-snapshot', { kind: 'null-checksum' }, /reported no checksum/],
    [
      'compressed body despite identity',
      'download-snapshot',
      { kind: 'compress' },
      /compressed the download/,
    ],
    ['202 accepted for wait=true', 'create-snapshot', { kind: 'accepted' }, /accepted \(202\)/],
    [
      'connection dropped after the snapshot was made',
      'create-snapshot',
      { kind: 'drop-after-commit' },
      /connection lost/,
    ],
  ];
  for (const [name, op, fault, warning] of surviving) {
    test(name, async (t) => {
      const world = await createQnbWorld(t);
      // a compressing proxy compresses every answer: the fast download (core/http-get-file.ts)
      // leaves it to node:http, which asks again and decodes it
      world.server.inject({ op, fault, times: fault.kind === 'compress' ? 2 : 1 });
      const run = await world.qnb(['backup-qdrant', '--collection', 'papers']);
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
      if (warning) assert.match(run.stderr, warning);
      const creates = world.server.requests.filter(
        (r) => r.method === 'POST' && /\/collections\/papers\/snapshots$/.test(r.path),
      );
      assert.equal(creates.length, 1, 'exactly one snapshot was created');
      const listed = await world.listed();
      assert.equal(listed.filter((b) => b.valid).length, 1);
      assert.equal((await world.qnb(['verify'])).code, 0);
      // and it really restores
      await world.client.deleteCollection('papers');
      const restore = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers']);
      assert.equal(restore.code, 0, restore.stderr);
      assert.equal((await world.client.count('papers', { exact: true })).count, 10);
    });
  }
});

describe('faults during restore', () => {
  test('the safety backup fails: nothing is dropped or uploaded, the collection stays as it was', async (t) => {
    const { world } = await withPreviousBackup(t);
    await world.client.upsert('papers', {
      wait: true,
      points: [{ id: 424242, vector: { dense: [0, 1, 0, 0] }, payload: { late: true } }],
    });
    const live = world.server.points('papers');
    const requestsBefore = world.server.requests.length;
    world.server.inject({ op: 'create-snapshot', fault: { kind: 'disk-full' } });
    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers', '--yes']);
    assert.notEqual(run.code, 0, run.stdout);
    assert.match(run.stderr, /safety .*failed.*nothing was restored/i);
    assert.ok(!hasStackTrace(run));
    const changed = world.server.requests
      .slice(requestsBefore)
      .filter((r) => r.method === 'DELETE' && !r.path.includes('/snapshots/'));
    assert.deepEqual(changed, [], 'the collection was not dropped');
    const uploads = world.server.requests
      .slice(requestsBefore)
      .filter((r) => r.path.endsWith('/snapshots/upload'));
    assert.deepEqual(uploads, [], 'nothing uploaded');
    assert.deepEqual(world.server.points('papers'), live, 'every point, the late one included');
  });

  test('interrupted during the safety backup: its set says interrupted, nothing dropped or uploaded', async (t) => {
    const { world } = await withPreviousBackup(t);
    const live = world.server.points('papers');
    const requestsBefore = world.server.requests.length;
    // the safety backup's download is slow, so the interrupt lands in it
    world.server.setSnapshotPadding('papers', 8 * 1024 * 1024);
    world.server.inject({
      op: 'download-snapshot',
      fault: { kind: 'slow', delayMs: 100 },
      times: Number.POSITIVE_INFINITY,
    });
    const proc = world.start(['restore-qdrant', '--latest', '--collection', 'papers', '--yes']);
    const deadline = Date.now() + 30_000;
    const downloading = async () =>
      (await readdir(join(world.backupDir, 'qdrant'))).some((n) => n.startsWith('.qnb-tmp-'));
    while (!(await downloading())) {
      assert.ok(Date.now() < deadline, 'the safety backup never started downloading');
      await sleep(50);
    }
    proc.child.kill('SIGINT');
    const run = await proc.done;
    world.server.clearFaults();
    assert.equal(run.code, 130, run.stderr);
    assert.match(run.stderr, /^✘ safety snapshot of "papers" was interrupted, so nothing was restored$/m);
    const sets = await Promise.all(
      (await readdir(join(world.backupDir, 'sets'))).map(async (f) =>
        JSON.parse(await readFile(join(world.backupDir, 'sets', f), 'utf8')),
      ),
    );
    const safety = sets.filter((s) => String(s.command).includes('safety backup'));
    assert.deepEqual(
      safety.map((s) => s.status),
      ['interrupted'],
    );
    const after = world.server.requests.slice(requestsBefore);
    assert.deepEqual(
      after.filter((r) => r.method === 'DELETE' && !r.path.includes('/snapshots/')),
      [],
      'the collection was not dropped',
    );
    assert.deepEqual(
      after.filter((r) => r.path.endsWith('/snapshots/upload')),
      [],
      'nothing uploaded',
    );
    assert.deepEqual(world.server.points('papers'), live);
  });

  test('upload fails: clear error, backup still valid', async (t) => {
    const { world } = await withPreviousBackup(t);
    await world.client.deleteCollection('papers');
    world.server.inject({
      op: 'upload-snapshot',
      fault: { kind: 'status', status: 500, message: 'recovery failed' },
    });
    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers']);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /^✘ .*upload snapshot to "papers": HTTP 500: recovery failed/m);
    assert.ok(!hasStackTrace(run));
    assert.equal((await world.listed()).filter((b) => b.valid).length, 1);
  });

  test('corrupt local file: refused before anything is touched (exit 4)', async (t) => {
    const { world, valid } = await withPreviousBackup(t);
    const { open } = await import('node:fs/promises');
    const fh = await open(`${world.backupDir}/${valid[0]}`, 'r+');
    await fh.write(Buffer.from('XXXX'), 0, 4, 700);
    await fh.close();
    const requestsBefore = world.server.requests.length;
    const run = await world.qnb(['restore-qdrant', '--latest', '--collection', 'papers', '--yes']);
    assert.equal(run.code, 4, run.stderr);
    assert.match(run.stderr, /file is corrupt/);
    const mutating = world.server.requests.slice(requestsBefore).filter((r) => r.method !== 'GET');
    assert.deepEqual(mutating, [], 'no request changed the server');
    const verify = await world.qnb(['verify']);
    assert.equal(verify.code, 4);
    assert.match(verify.stdout, new RegExp(`❌ ${valid[0]!.replace(/[.]/g, '\\.')}: sha256 differs`));
  });
});

/** A 2 MiB tmpfs for a backups folder, unmounted after `t`; undefined (skipped) when not root. */
async function smallDisk(t: TestContext): Promise<string | undefined> {
  if (
    !requireComponent(t, 'root (to mount a small tmpfs)', process.getuid?.() === 0, 'run the tests as root')
  )
    return undefined;
  const small = await mkdtemp(join(tmpdir(), 'qnb-full-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', small]);
  t.after(async () => {
    execFileSync('umount', ['-l', small]);
    await rm(small, { recursive: true, force: true });
  });
  return small;
}

describe('the backups folder fills up', () => {
  test('during a download: one line naming the file system error, nothing new listed, the earlier backup intact', async (t) => {
    const small = await smallDisk(t);
    if (!small) return;
    const world = await createQnbWorld(t, { papers: 4, chunks: 4 });
    const first = await world.qnb(['backup-qdrant', '--collection', 'chunks', '--backup-dir', small]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const files = async () => (await readdir(join(small, 'qdrant'))).sort();
    const earlier = await files();
    assert.equal(earlier.length, 1);
    const earlierHash = createHash('sha256')
      .update(await readFile(join(small, 'qdrant', earlier[0]!)))
      .digest('hex');

    await world.server.setSnapshotPadding('papers', 4 << 20);
    const full = await world.qnb(['backup-qdrant', '--collection', 'papers', '--backup-dir', small]);
    assert.equal(full.code, 1, full.stdout + full.stderr);
    assert.match(full.stdout + full.stderr, /no space left on device/i);
    assert.ok(!hasStackTrace(full));
    assert.deepEqual(await files(), earlier, 'no partial or temp file left beside the earlier backup');
    const again = createHash('sha256')
      .update(await readFile(join(small, 'qdrant', earlier[0]!)))
      .digest('hex');
    assert.equal(again, earlierHash);
    const listed = JSON.parse((await world.qnb(['list', '--json', '--backup-dir', small])).stdout) as {
      backups: { name: string; valid: boolean }[];
    };
    assert.deepEqual(
      listed.backups.map((b) => [b.name, b.valid]),
      [['chunks', true]],
    );
  });

  test('prune runs on a full disk (on the space qnb kept for it) and frees it', async (t) => {
    const small = await smallDisk(t);
    if (!small) return;
    const world = await createQnbWorld(t, { papers: 4, chunks: 4 });
    await world.server.setSnapshotPadding('chunks', 256 << 10);
    for (let i = 0; i < 2; i++) {
      const r = await world.qnb(['backup-qdrant', '--collection', 'chunks', '--backup-dir', small]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    assert.ok((await readdir(small)).includes('.qnb-reserve'), 'a backup leaves the space reserve');
    // the rest of the file system taken by something else, to the last byte
    const fh = await open(join(small, 'filler'), 'w');
    const block = Buffer.alloc(4096);
    try {
      for (;;) await fh.write(block);
    } catch (err) {
      assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
    } finally {
      await fh.close();
    }
    const blocked = await world.qnb(['backup-qdrant', '--collection', 'chunks', '--backup-dir', small]);
    assert.notEqual(blocked.code, 0);
    assert.match(blocked.stdout + blocked.stderr, /no space left on device/i);
    const pruned = await world.qnb(['prune', '--keep-last', '1', '--backup-dir', small]);
    assert.equal(pruned.code, 0, pruned.stdout + pruned.stderr);
    assert.match(pruned.stderr, /disk is full: prune runs on the space qnb kept for it/);
    assert.match(pruned.stdout, /Removed 1 backup/);
    const left = await readdir(small);
    assert.deepEqual(
      left.filter((f) => f.includes('lock') || f.startsWith('.qnb-tmp')),
      [],
      'no lock or temp file left',
    );
    assert.ok(left.includes('.qnb-reserve'), 'the reserve is made again once there is room');
    const listed = JSON.parse((await world.qnb(['list', '--json', '--backup-dir', small])).stdout) as {
      backups: { name: string; valid: boolean }[];
      unknownFiles?: string[];
    };
    assert.deepEqual(
      listed.backups.map((b) => [b.name, b.valid]),
      [['chunks', true]],
    );
    const free = await statfs(small);
    assert.ok(free.bavail * free.bsize >= 200 << 10, `free after prune: ${free.bavail * free.bsize} bytes`);
    // and a backup fits again
    const after = await world.qnb(['backup-qdrant', '--collection', 'papers', '--backup-dir', small]);
    assert.equal(after.code, 0, after.stdout + after.stderr);
  });
});
