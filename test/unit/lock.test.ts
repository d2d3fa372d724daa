import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { type PathLike, readFileSync, writeFileSync } from 'node:fs';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LockedError } from '../../src/core/errors.js';
import { acquireLock, LOCK_FILE, type LockInfo, processStartTime } from '../../src/core/lock.js';
import { tempDir } from '../helpers/tmp.js';

function deadPid(): number {
  // a process that has exited: its PID is free (and very unlikely to be reused within the test)
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(r.stdout.toString());
}

test('lock records pid, host and time; a second acquire is refused naming the holder', async (t) => {
  const dir = await tempDir(t);
  const lock = await acquireLock(dir, 'backup-qdrant');
  const info = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
  assert.equal(info.pid, process.pid);
  assert.equal(info.host, hostname());
  assert.equal(info.command, 'backup-qdrant');
  assert.ok(!Number.isNaN(Date.parse(info.startedAt)));
  await assert.rejects(
    acquireLock(dir, 'verify'),
    (e: unknown) => e instanceof LockedError && /backup-qdrant \(PID \d+ on /.test(e.message),
  );
  await lock.release();
  const again = await acquireLock(dir, 'verify');
  await again.release();
});

test('a stale lock of a dead process on this host is recovered', async (t) => {
  const dir = await tempDir(t);
  const stale: LockInfo = {
    pid: deadPid(),
    host: hostname(),
    procStart: null,
    startedAt: new Date(0).toISOString(),
    command: 'watch',
    token: 'old',
  };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(stale));
  const lock = await acquireLock(dir, 'backup-qdrant');
  assert.equal(lock.info.command, 'backup-qdrant');
  await lock.release();
});

test('a reused PID (live process with another start time) is treated as stale', async (t) => {
  const dir = await tempDir(t);
  const reused: LockInfo = {
    pid: process.pid,
    host: hostname(),
    procStart: 'not-my-start-time',
    startedAt: '',
    command: 'x',
    token: 't',
  };
  if (processStartTime(process.pid) === null) return t.skip('no /proc on this system');
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(reused));
  const lock = await acquireLock(dir, 'backup-qdrant');
  await lock.release();
});

test('a lock from another host is never broken automatically', async (t) => {
  const dir = await tempDir(t);
  const other: LockInfo = {
    pid: 1,
    host: 'some-other-host',
    procStart: null,
    startedAt: '',
    command: 'backup-all',
    token: 't',
  };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(other));
  await assert.rejects(
    acquireLock(dir, 'verify'),
    (e: unknown) => e instanceof LockedError && /some-other-host/.test(e.hint ?? e.message),
  );
});

test('a dead-looking lock from another container on this host (another PID namespace) is never broken', async (t) => {
  // a sidecar and a `docker run --rm` one-off under --network host share the host's name, but a
  // PID of the other container means nothing here: its run may well be going on
  const dir = await tempDir(t);
  const other: LockInfo = {
    pid: deadPid(),
    host: hostname(),
    pidNs: 'pid:[1]',
    container: 'c'.repeat(64),
    procStart: null,
    startedAt: '',
    command: 'restore --latest',
    token: 't',
  };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(other));
  await assert.rejects(
    acquireLock(dir, 'backup-all (schedule)'),
    (e: unknown) => e instanceof LockedError && /\(in another container\), remove/.test(e.hint ?? ''),
  );
  // the same lock written in this PID namespace is judged by its PID: stale, recovered
  const { readlinkSync } = await import('node:fs');
  await writeFile(
    join(dir, LOCK_FILE),
    JSON.stringify({ ...other, pidNs: readlinkSync('/proc/self/ns/pid') }),
  );
  const lock = await acquireLock(dir, 'backup-all (schedule)');
  assert.ok(lock.info.pidNs?.startsWith('pid:['), 'our lock records our PID namespace');
  await lock.release();
});

test('a lock written elsewhere is taken over only once its holder has stopped refreshing it (restic-style)', async (t) => {
  // a sidecar killed mid-backup and recreated by compose (a new container id) must not be locked
  // out for good; a live holder elsewhere keeps its lock fresh and is never broken
  const { utimes } = await import('node:fs/promises');
  const dir = await tempDir(t);
  const path = join(dir, LOCK_FILE);
  const elsewhere: LockInfo = {
    pid: 1,
    host: hostname(),
    pidNs: 'pid:[1]',
    container: 'd'.repeat(64),
    procStart: null,
    startedAt: '',
    command: 'backup-all (schedule)',
    token: 't',
    refreshEvery: 60_000,
  };
  const age = async (ms: number) => {
    const then = new Date(Date.now() - ms);
    await utimes(path, then, then);
  };
  await writeFile(path, JSON.stringify(elsewhere));
  await age(29 * 60_000);
  await assert.rejects(
    acquireLock(dir, 'verify'),
    (e: unknown) => e instanceof LockedError && /not been refreshed for 30 min/.test(e.hint ?? ''),
  );
  await age(31 * 60_000);
  const taken = await acquireLock(dir, 'verify');
  await taken.release();

  // an older qnb's lock (no refreshEvery) never refreshed: its age says nothing
  const { refreshEvery: _, ...older } = elsewhere;
  await writeFile(path, JSON.stringify(older));
  await age(24 * 3600_000);
  await assert.rejects(acquireLock(dir, 'verify'), LockedError);
});

test('a held lock refreshes its file while held and stops when released', async (t) => {
  const { stat, utimes } = await import('node:fs/promises');
  const dir = await tempDir(t);
  const path = join(dir, LOCK_FILE);
  const lock = await acquireLock(dir, 'backup-all', { refreshMs: 50 });
  const old = new Date(Date.now() - 3600_000);
  await utimes(path, old, old);
  await new Promise((r) => setTimeout(r, 300));
  assert.ok(Date.now() - (await stat(path)).mtimeMs < 10_000, 'the holder refreshed its lock');
  assert.equal(lock.info.refreshEvery, 50);
  await lock.release();
  await writeFile(path, JSON.stringify({ ...lock.info, token: 'next' }));
  await utimes(path, old, old);
  await new Promise((r) => setTimeout(r, 200));
  assert.ok(Date.now() - (await stat(path)).mtimeMs > 3000_000, 'a released lock no longer refreshes');
});

test('release removes only our own lock', async (t) => {
  const dir = await tempDir(t);
  const lock = await acquireLock(dir, 'a');
  const foreign: LockInfo = { ...lock.info, token: 'someone-else' };
  await writeFile(join(dir, LOCK_FILE), JSON.stringify(foreign));
  await lock.release();
  assert.match(await readFile(join(dir, LOCK_FILE), 'utf8'), /someone-else/);
});

test('an empty lock file (qnb killed between create and write, older qnb) is recovered once it is old', async (t) => {
  const dir = await tempDir(t);
  const { utimes } = await import('node:fs/promises');
  await writeFile(join(dir, LOCK_FILE), '');
  await assert.rejects(
    acquireLock(dir, 'verify'),
    (e: unknown) => e instanceof LockedError,
    'a fresh unreadable lock may be mid-write',
  );
  const old = new Date(Date.now() - 5 * 60_000);
  await utimes(join(dir, LOCK_FILE), old, old);
  const lock = await acquireLock(dir, 'verify');
  assert.equal(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).command, 'verify');
  await lock.release();
});

test('taking the lock leaves no temporary file behind', async (t) => {
  const dir = await tempDir(t);
  const lock = await acquireLock(dir, 'a');
  await assert.rejects(acquireLock(dir, 'b'));
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(await readdir(dir), [LOCK_FILE]);
  await lock.release();
  assert.deepEqual(await readdir(dir), []);
});

test('a run breaking a stale lock never removes or replaces a lock another run took meanwhile', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, LOCK_FILE);
  const lockOf = (token: string, pid: number): LockInfo => ({
    pid,
    host: hostname(),
    procStart: processStartTime(pid),
    startedAt: new Date().toISOString(),
    command: 'backup-all',
    token,
  });
  writeFileSync(path, JSON.stringify(lockOf('stale', deadPid())));
  // B breaks the stale lock and takes it right after this run read it; C links its own lock as
  // soon as the lock file is gone for a moment
  const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
  const { readFile: realRead, rename: realRename } = fsp;
  let bTook = false;
  let cTook = false;
  fsp.readFile = (async (...args: Parameters<typeof realRead>) => {
    const out = await realRead(...args);
    if (args[0] === path && !bTook && String(out).includes('"stale"')) {
      bTook = true;
      writeFileSync(path, JSON.stringify(lockOf('B', process.pid)));
    }
    return out;
  }) as typeof realRead;
  fsp.rename = (async (from: PathLike, to: PathLike) => {
    await realRename(from, to);
    if (from === path && !cTook) {
      try {
        writeFileSync(path, JSON.stringify(lockOf('C', process.pid)), { flag: 'wx' });
        cTook = true;
      } catch {
        // not gone: C waits
      }
    }
  }) as typeof realRename;
  syncBuiltinESMExports();
  t.after(() => {
    fsp.readFile = realRead;
    fsp.rename = realRename;
    syncBuiltinESMExports();
  });
  await assert.rejects(acquireLock(dir, 'prune'), LockedError);
  assert.ok(bTook, 'the race happened');
  const onDisk = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  // whoever believes it holds the lock must find its own file there
  assert.equal(onDisk.token, cTook ? 'C' : 'B', `B took it, C ${cTook ? 'took it too' : 'did not'}`);
});

test('a break file left by a run that died while breaking a stale lock is cleared once old', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, LOCK_FILE);
  const stale: LockInfo = {
    pid: deadPid(),
    host: hostname(),
    procStart: null,
    startedAt: new Date(0).toISOString(),
    command: 'watch',
    token: 'old',
  };
  await writeFile(path, JSON.stringify(stale));
  await writeFile(`${path}.break`, '12345');
  // fresh: another run may be breaking it right now, so this one does not
  await assert.rejects(acquireLock(dir, 'prune'), LockedError);
  assert.equal(JSON.parse(await readFile(path, 'utf8')).token, 'old');
  const old = new Date(Date.now() - 5 * 60_000);
  await utimes(`${path}.break`, old, old);
  const lock = await acquireLock(dir, 'prune');
  assert.equal(lock.info.command, 'prune');
  await lock.release();
});
