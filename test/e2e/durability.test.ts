/**
 * Guarantee 1 on the system calls (`strace -f`): a backup's file is fsynced before it takes its
 * name, its folder is fsynced after that, and the set manifest is written (temp, fsync, rename)
 * after both — a crash at any point leaves either no backup under that name or a durable one.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { runQnb } from '../helpers/cli.js';
import { requireComponent } from '../helpers/components.js';
import { createQnbWorld } from '../helpers/qnb-world.js';

interface Call {
  name: string;
  args: string;
  ret: string;
}

/** strace -f lines as calls in completion order (an `<unfinished ...>` call joined with its `resumed` rest). */
function parseStrace(text: string): Call[] {
  const open = new Map<string, string>();
  const calls: Call[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, pid, rest] = m as unknown as [string, string, string];
    let full = rest;
    if (rest.endsWith('<unfinished ...>')) {
      open.set(pid, rest.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed) {
      full = (open.get(pid) ?? '') + resumed[1];
      open.delete(pid);
    }
    const c = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(full);
    if (c) calls.push({ name: c[1]!, args: c[2]!, ret: c[3]! });
  }
  return calls;
}

const quoted = (args: string) => [...args.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);

/** Index of the fsync/fdatasync of what `openat` at `from` returned, before `before` and before its close. */
function syncOf(calls: Call[], from: number, before: number, full = true): number {
  const fd = calls[from]!.ret;
  for (let i = from + 1; i < before; i++) {
    const c = calls[i]!;
    if (c.args.split(',')[0] !== fd) continue;
    if (c.name === 'close') return -1;
    if (c.name === 'fsync' || (!full && c.name === 'fdatasync')) return i;
  }
  return -1;
}

/** The last `openat` of `path` before `before`. */
const lastOpen = (calls: Call[], path: string, before: number) =>
  calls.findLastIndex(
    (c, i) => i < before && c.name === 'openat' && quoted(c.args)[0] === path && Number(c.ret) >= 0,
  );

test('backup-qdrant: fsync(file) → its name (link/rename) → fsync(folder) → the set manifest, on the system calls', async (t) => {
  const hasStrace = spawnSync('strace', ['-V']).status === 0;
  if (!requireComponent(t, 'strace', hasStrace, 'apt-get install strace')) return;
  const world = await createQnbWorld(t, { papers: 4, chunks: 4 });
  // a large snapshot: the ring download (pool writes, background flush, worker hash)
  await world.server.setSnapshotPadding('chunks', 40 << 20);
  const log = join(world.cwd, 'strace.log');
  const trace = 'trace=openat,fsync,fdatasync,link,linkat,rename,renameat,renameat2,close';
  // not spawnSync: the Qdrant test server answers from this process's event loop
  const run = await runQnb(['backup-qdrant', '--collection', 'chunks', '--json'], {
    cwd: world.cwd,
    env: world.env,
    timeoutMs: 180_000,
    wrap: ['strace', '-f', '-qq', '-e', trace, '-o', log],
  });
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const setId = (JSON.parse(run.stdout) as { setId: string }).setId;
  const listed = (await world.listed()).filter((b) => b.valid);
  assert.equal(listed.length, 1);
  const final = join(world.backupDir, listed[0]!.file);
  const calls = parseStrace(await readFile(log, 'utf8'));

  // the file takes its name once, from a temp name, after a full fsync of that temp file
  const named = calls.findIndex(
    (c) => /^(link|linkat|rename|renameat2?)$/.test(c.name) && quoted(c.args).at(-1) === final,
  );
  assert.ok(named > 0, `the backup took its name: ${final}`);
  const temp = quoted(calls[named]!.args)[0]!;
  assert.notEqual(temp, final);
  const opened = lastOpen(calls, temp, named);
  assert.ok(opened >= 0 && /O_CREAT/.test(calls[opened]!.args), 'the temp file was created');
  assert.ok(syncOf(calls, opened, named) > opened, 'fsync(temp file) before it takes its name');

  // then the folder that holds the name is fsynced
  const folder = dirname(final);
  const dirOpen = calls.findIndex((c, i) => i > named && c.name === 'openat' && quoted(c.args)[0] === folder);
  assert.ok(dirOpen > named, 'the folder is opened after the name is made');
  const dirSync = syncOf(calls, dirOpen, calls.length, false);
  assert.ok(dirSync > named, 'fsync(folder) after the name is made');

  // and the set manifest's last write (the one that lists the backup ok) comes after both,
  // itself a temp file fsynced then renamed over the manifest
  const manifest = join(world.backupDir, 'sets', `${setId}.json`);
  const last = calls.findLastIndex(
    (c) => /^rename(at2?)?$/.test(c.name) && quoted(c.args).at(-1) === manifest,
  );
  assert.ok(last > dirSync, 'the manifest is written after the file and its folder are durable');
  const between = calls.filter(
    (c, i) =>
      i > named && i < dirSync && /^rename(at2?)?$/.test(c.name) && quoted(c.args).at(-1) === manifest,
  );
  assert.deepEqual(between, [], 'no manifest write between the name and the folder fsync');
  const mTemp = quoted(calls[last]!.args)[0]!;
  const mOpen = lastOpen(calls, mTemp, last);
  assert.ok(mOpen >= 0 && syncOf(calls, mOpen, last) > mOpen, 'fsync(manifest temp) before its rename');
});
