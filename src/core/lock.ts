/**
 * One qnb run at a time per backups folder (guarantee 5). The lock file records PID, host,
 * process start time and command, so a lock left by a dead process on this host is recovered
 * (restic's lock_file.go). Locks from another host are never broken automatically.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ioError, LockedError } from './errors.js';
import { FILE_MODE, TEMP_PREFIX } from './fs-safe.js';
import { type ProcessPlace, placeOf, processPlace } from './process-place.js';

/** Name of the lock file inside the backups folder. */
export const LOCK_FILE = '.qnb.lock';
/** Held (briefly) by the one run breaking a stale lock. */
export const LOCK_BREAK_FILE = `${LOCK_FILE}.break`;

/**
 * A held lock's file gets a fresh mtime this often (restic refreshes its locks the same way), so
 * a holder nothing here can judge by PID — another host, another container — is known to be
 * gone once its lock has not been refreshed for {@link STALE_ELSEWHERE_MS}.
 */
export const REFRESH_MS = 60_000;
/** Age of the last refresh after which a lock written elsewhere is stale (restic: 30 min). */
export const STALE_ELSEWHERE_MS = 30 * 60_000;

/** What a lock file holds. */
export interface LockInfo extends ProcessPlace {
  pid: number;
  host: string;
  /** Process start time from /proc (clock ticks since boot), to detect PID reuse. */
  procStart: string | null;
  startedAt: string;
  command: string;
  token: string;
  /** Set by holders that refresh the file's mtime every this many ms (absent in older locks). */
  refreshEvery?: number;
}

/** A held lock. */
export interface Lock {
  info: LockInfo;
  /** Removes the lock if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** Start time of a process from /proc/<pid>/stat (field 22), or null where /proc is unavailable. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) may contain spaces; fields after the last ')' are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** True when the process that wrote `info` is still running on this host. */
export function isLockHolderAlive(info: LockInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const start = processStartTime(info.pid);
  // same PID but another start time: the PID was reused by an unrelated process.
  return !(info.procStart && start && start !== info.procStart);
}

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    // unreadable or half-written lock: treat as held by an unknown process with no PID.
    return { pid: 0, host: '?', procStart: null, startedAt: '?', command: '?', token: '?' };
  }
}

function describe(info: LockInfo): string {
  return `${info.command} (PID ${info.pid} on ${info.host}, since ${info.startedAt})`;
}

/**
 * Takes the lock for `command`, recovering a stale lock of a dead process on this host.
 * Throws LockedError naming the holder when another live run has it.
 */
export async function acquireLock(
  dir: string,
  command: string,
  opts: { refreshMs?: number; staleElsewhereMs?: number } = {},
): Promise<Lock> {
  const path = join(dir, LOCK_FILE);
  const refreshMs = opts.refreshMs ?? REFRESH_MS;
  const info: LockInfo = {
    pid: process.pid,
    ...processPlace(),
    procStart: processStartTime(process.pid),
    startedAt: new Date().toISOString(),
    command,
    token: randomBytes(8).toString('hex'),
    refreshEvery: refreshMs,
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    // write the whole lock under a temporary name, then link it into place: link fails with
    // EEXIST atomically, and a lock file is never seen empty or half-written (a kill between
    // create and write used to leave an empty lock that blocked every later run)
    const temp = join(dir, `${TEMP_PREFIX}lock-${process.pid}-${randomBytes(3).toString('hex')}`);
    try {
      const fh = await open(temp, 'wx', FILE_MODE);
      try {
        await fh.writeFile(JSON.stringify(info));
        await fh.sync();
      } finally {
        await fh.close();
      }
      await link(temp, path);
      const refresher = setInterval(() => void refreshLock(path, info.token), refreshMs);
      refresher.unref();
      return {
        info,
        release: () => {
          clearInterval(refresher);
          return releaseLock(path, info.token);
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(err as NodeJS.ErrnoException, path);
    } finally {
      await rm(temp, { force: true });
    }
    const holder = await readLock(path);
    if (!holder) continue;
    if (holder.pid === 0 && (await unreadableAndOld(path))) {
      // an unreadable lock from an older qnb (created, never written): nobody can own it
      await breakStaleLock(path, holder);
      continue;
    }
    // a holder in another container (or host) is never judged by its PID here, only by
    // whether it still refreshes its lock
    const where = placeOf(holder);
    const staleElsewhere =
      where === 'elsewhere' &&
      (await notRefreshedFor(path, holder, opts.staleElsewhereMs ?? STALE_ELSEWHERE_MS));
    if (
      (where === 'elsewhere' && !staleElsewhere) ||
      holder.pid === 0 ||
      (where === 'here' && isLockHolderAlive(holder))
    ) {
      throw new LockedError(
        `backups folder is locked by ${describe(holder)}`,
        where !== 'elsewhere'
          ? 'wait for that run to finish'
          : `if no qnb runs on ${holder.host}${holder.host === info.host ? ' (in another container)' : ''}, remove ${path}${holder.refreshEvery ? ' (qnb takes it over once it has not been refreshed for 30 min)' : ''}`,
      );
    }
    await breakStaleLock(path, holder);
  }
  throw new LockedError('could not take the backups folder lock', 'another qnb run is starting; try again');
}

/** True for a lock file that cannot be parsed and was last written over a minute ago. */
async function unreadableAndOld(path: string): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > 60_000;
  } catch {
    return false;
  }
}

/** True for a refreshing holder's lock whose mtime is older than `staleMs`. */
async function notRefreshedFor(path: string, holder: LockInfo, staleMs: number): Promise<boolean> {
  if (!holder.refreshEvery) return false; // an older qnb never refreshed: nothing tells
  try {
    return Date.now() - (await stat(path)).mtimeMs > staleMs;
  } catch {
    return false;
  }
}

/** Gives our lock file a fresh mtime, if it is still ours. Best effort. */
async function refreshLock(path: string, token: string): Promise<void> {
  try {
    const current = await readLock(path);
    if (current?.token !== token) return;
    const now = new Date();
    await utimes(path, now, now);
  } catch {
    // a lost refresh only makes the lock look older to another host or container
  }
}

/** A break file older than this was left by a run that died while breaking a lock. */
const BREAK_STALE_MS = 60_000;

/**
 * Removes `stale` from `path` unless another run replaced it meanwhile. One breaker at a time
 * (a `.break` file taken by link, which fails atomically when it exists), and the lock read
 * again under it: nobody else removes a lock whose holder is dead, so what is read is what is
 * removed. (Moving the lock aside and back, as before, could put back a lock over one that a
 * third run had taken in between: two holders.)
 */
async function breakStaleLock(path: string, stale: LockInfo): Promise<void> {
  const breaker = join(dirname(path), LOCK_BREAK_FILE);
  const temp = join(dirname(path), `${TEMP_PREFIX}break-${process.pid}-${randomBytes(3).toString('hex')}`);
  try {
    await writeFile(temp, String(process.pid), { flag: 'wx', mode: FILE_MODE });
    await link(temp, breaker);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST')
      throw ioError(err as NodeJS.ErrnoException, breaker);
    // another run is breaking it; a break file left by a run that died is cleared for the next try
    const age = await stat(breaker).then(
      (s) => Date.now() - s.mtimeMs,
      () => 0,
    );
    if (age > BREAK_STALE_MS) await rm(breaker, { force: true });
    return;
  } finally {
    await rm(temp, { force: true });
  }
  try {
    if ((await readLock(path))?.token === stale.token) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

async function releaseLock(path: string, token: string): Promise<void> {
  const current = await readLock(path);
  if (current && current.token === token) await rm(path, { force: true });
}
