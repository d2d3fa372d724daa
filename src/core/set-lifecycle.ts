/**
 * The frame every writing command runs in: take the lock, prepare the folder, clean leftovers
 * of interrupted runs, then run the body; the lock is released whatever happens.
 * Also the ArtifactSink that moves finished files into place and keeps the manifest current.
 */

import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ArtifactSink } from '../targets/target.js';
import { InterruptedError, isNoSpace, joinCleanupError, QnbError, toQnbError } from './errors.js';
import type { Reporter } from './events.js';
import { commitFile, tempPathFor } from './fs-safe.js';
import { acquireLock } from './lock.js';
import { newSetManifest, type SetManifest } from './manifest.js';
import type { Repository } from './repository.js';
import { QNB_VERSION } from './version.js';

/**
 * Runs `body` holding the repository lock, after cleaning leftovers of interrupted runs. With
 * `spaceReserve` (prune: the command that frees space), a full disk is met by removing the
 * space reserve (repository.ts RESERVE_FILE) and running again; the reserve is made again after
 * every run that ends well.
 */
export async function withRepositoryLock<T>(
  repo: Repository,
  command: string,
  reporter: Reporter,
  body: () => Promise<T>,
  opts: { spaceReserve?: boolean } = {},
): Promise<T> {
  let result: T;
  try {
    result = await lockedRun(repo, command, reporter, body);
  } catch (err) {
    if (!opts.spaceReserve || !isNoSpace(err) || !(await repo.releaseReserve())) throw err;
    reporter.emit({
      type: 'warning',
      message: `the backups folder's disk is full: ${command} runs on the space qnb kept for it`,
    });
    result = await lockedRun(repo, command, reporter, body);
  }
  await repo.keepReserve();
  return result;
}

async function lockedRun<T>(
  repo: Repository,
  command: string,
  reporter: Reporter,
  body: () => Promise<T>,
): Promise<T> {
  await repo.init();
  const lock = await acquireLock(repo.root, command);
  let result: T;
  try {
    const cleaned = await repo.cleanupLeftovers();
    for (const f of [...cleaned.removedTemp, ...cleaned.removedPending]) {
      reporter.emit({ type: 'step', message: `removed leftover of an interrupted run: ${f}` });
    }
    for (const id of cleaned.interruptedSets)
      reporter.emit({ type: 'warning', message: `backup set ${id} was interrupted; marked as such` });
    result = await body();
  } catch (err) {
    await lock.release().catch((e) => joinCleanupError(err, e));
    throw err;
  }
  await lock.release();
  return result;
}

/** Starts a new set manifest (status `running`) and saves it. */
export async function startSet(
  repo: Repository,
  command: string,
  now: Date,
  reason: SetManifest['reason'] = 'backup',
): Promise<SetManifest> {
  const set = newSetManifest({
    id: repo.newSetId(now),
    command,
    reason,
    host: hostname(),
    pid: process.pid,
    qnbVersion: QNB_VERSION,
    now,
  });
  await repo.saveSet(set);
  return set;
}

/** Finishes a set: status from its artifacts and errors, unless given. */
export async function finishSet(
  repo: Repository,
  set: SetManifest,
  now: Date,
  status?: SetManifest['status'],
): Promise<void> {
  set.status =
    status ??
    (set.errors.length === 0 ? 'ok' : set.artifacts.some((a) => a.status === 'ok') ? 'partial' : 'failed');
  set.finishedAt = now.toISOString();
  await repo.saveSet(set);
}

/**
 * A safety backup that failed before anything was overwritten: its set is finished `failed` with
 * the error (`interrupted` when the run was), and the error returned says
 * `${what} failed, so nothing was restored` (`was interrupted, so …`).
 */
export async function failSafetySet(
  repo: Repository,
  set: SetManifest,
  entry: { target: SetManifest['errors'][number]['target']; name: string },
  what: string,
  err: unknown,
  now: Date,
  signal?: AbortSignal,
): Promise<QnbError> {
  const e = toQnbError(err, signal);
  set.errors.push({ ...entry, code: e.code, message: e.message });
  const interrupted = e.code === 'E_INTERRUPTED';
  await finishSet(repo, set, now, interrupted ? 'interrupted' : 'failed');
  // an interrupt says no more than that, unless the cleanup after it failed too (Neo4j not started again)
  const detail = interrupted && e.message === new InterruptedError().message ? '' : `: ${e.message}`;
  const said = `${what} ${interrupted ? 'was interrupted' : 'failed'}, so nothing was restored${detail}`;
  return new QnbError(e.code, said, {
    hint: e.hint,
    cause: e,
  });
}

/** The sink that writes artifacts of `set` into `repo`. */
export function createSetSink(repo: Repository, set: SetManifest, now: () => Date): ArtifactSink {
  return {
    setId: set.id,
    async reserve(target, baseName, ext) {
      const rel = await repo.allocateFile(target, baseName, now(), ext);
      return { rel, tempPath: tempPathFor(repo.resolve(rel)) };
    },
    async commit(record, tempPath) {
      // pending first: if qnb dies between rename and the final save, the next run removes the file
      const entry: typeof record = { ...record, status: 'pending' };
      set.artifacts.push(entry);
      await repo.saveSet(set);
      await commitFile(tempPath, repo.resolve(record.file));
      entry.status = 'ok';
      record.status = 'ok';
      await repo.saveSet(set);
    },
    async discard(tempPath) {
      await rm(tempPath, { force: true }).catch(() => {});
    },
  };
}
