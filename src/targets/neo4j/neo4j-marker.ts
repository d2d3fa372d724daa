/**
 * Guarantee 3 across crashes: before qnb stops Neo4j it writes a marker in the backups folder;
 * it removes the marker after Neo4j answers again. The marker also names every child process qnb
 * has in flight meanwhile (`neo4j stop`, `docker stop`, `neo4j-admin`), the guardian watching it
 * (neo4j-guardian.ts) and, during a restore, the dump being loaded. A marker left by a dead qnb
 * makes its guardian — or, if that died too, the next run (or `doctor`) — start Neo4j again once
 * those children have ended.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { addExitNote } from '../../core/exit-notes.js';
import { FILE_MODE } from '../../core/fs-safe.js';
import { isLockHolderAlive, LOCK_FILE, type LockInfo, processStartTime } from '../../core/lock.js';
import { type ProcessPlace, placeOf, processPlace } from '../../core/process-place.js';
import type { RuntimeSpec } from './neo4j-runtime-spec.js';

/** File name of the marker inside the backups folder. */
export const STOPPED_MARKER = '.qnb-neo4j-stopped.json';

/** A process qnb started while Neo4j was stopped by it. */
export interface MarkerChild {
  pid: number;
  procStart: string | null;
  /** e.g. `neo4j stop`, `neo4j-admin database load`. */
  what: string;
  /** The `neo4j-admin` container a `docker run` child runs: it outlives its client when qnb dies. */
  container?: { name: string; docker: string };
}

/** What the marker holds. */
export interface StoppedMarker extends ProcessPlace {
  runtime: RuntimeSpec;
  pid: number;
  procStart: string | null;
  host: string;
  since: string;
  /** Whether Neo4j was running before qnb stopped it (only then is it started again). */
  wasRunning: boolean;
  /** Identifies this marker; its guardian acts only while the marker carries its token. */
  token?: string;
  /** Children in flight (removed when they end). Recovery waits for them before deciding. */
  children?: MarkerChild[];
  /** The detached guardian watching this marker. */
  guardian?: { pid: number; procStart: string | null };
  /** Set while `neo4j-admin database load` replaces the database (a restore). */
  loading?: { database: string; file: string; safety?: string; since: string };
  /** Token of the backups-folder lock the writer held: once another run holds the lock, the writer's run has ended. */
  lockToken?: string;
}

/** The marker this process wrote and keeps up to date, if Neo4j is stopped by it now. */
let active: { path: string; marker: StoppedMarker; dropNote: () => void } | undefined;

/**
 * What the terminal is told when qnb quits at once (a second Ctrl-C) while `m` is its marker:
 * who starts Neo4j again, and during a load, that the database may be half-loaded and which
 * command puts back what was there before.
 */
export function forcedExitNote(m: StoppedMarker): string | undefined {
  const who = m.guardian
    ? `qnb's guardian (PID ${m.guardian.pid}) takes over`
    : 'the next qnb run (or `qnb doctor`) takes over';
  const after = '`qnb status` shows what it did';
  if (m.loading) {
    const { database, file, safety } = m.loading;
    const back = safety ? `; \`qnb restore-neo4j ${safety} --yes\` puts back what was there before` : '';
    const loading = `neo4j "${database}": quit while ${file} was loading, so the database may be half-loaded`;
    // Neo4j was not running before: nobody starts it or checks the store
    if (!m.wasRunning) return `${loading}${back}`;
    return `${loading}: ${who} and starts Neo4j only if \`neo4j-admin database check\` passes${back}; ${after}`;
  }
  if (!m.wasRunning) return undefined;
  return `neo4j: quit while Neo4j was stopped by qnb: ${who} and starts it once qnb's children (${(m.children ?? []).map((c) => c.what).join(', ') || 'none'}) have ended; ${after}`;
}

/**
 * Writes `m` at `path` synchronously (temp file + rename): a child's PID must be on disk before
 * anything else happens, or a kill right after the spawn would hide it from recovery.
 */
function writeMarkerSync(path: string, m: StoppedMarker): void {
  const temp = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, JSON.stringify(m), { mode: FILE_MODE });
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

/**
 * Child bookkeeping is best effort: it runs right after a spawn and in a child's `close`
 * handler, where a throw (a full disk: ENOSPC) would abandon a `neo4j stop` already on its way
 * (qnb would "start" a server that is still stopping, and the stop would finish after qnb left)
 * or crash qnb outright. The marker then lags; recovery still waits for what it does name.
 */
function updateChildren(children: MarkerChild[]): void {
  try {
    updateStoppedMarker({ children });
  } catch {
    if (active) active.marker = { ...active.marker, children };
  }
}

/** Writes the marker (before stopping Neo4j). */
export async function writeStoppedMarker(
  backupDir: string,
  runtime: RuntimeSpec,
  wasRunning: boolean,
): Promise<StoppedMarker> {
  const m: StoppedMarker = {
    runtime,
    pid: process.pid,
    procStart: processStartTime(process.pid),
    ...processPlace(),
    since: new Date().toISOString(),
    wasRunning,
    token: randomBytes(8).toString('hex'),
    children: [],
  };
  const lockToken = ownLockToken(backupDir);
  if (lockToken) m.lockToken = lockToken;
  const path = join(backupDir, STOPPED_MARKER);
  writeMarkerSync(path, m);
  active?.dropNote();
  const dropNote = addExitNote(() => (active ? forcedExitNote(active.marker) : undefined));
  active = { path, marker: m, dropNote };
  return m;
}

/** Updates the active marker (no-op when this process has none). */
export function updateStoppedMarker(
  patch: Partial<StoppedMarker>,
  opts: { keepOnFailure?: boolean } = {},
): void {
  if (!active) return;
  const next = { ...active.marker, ...patch };
  // by default kept only once written: a later write must not record what this one could not
  // (a load refused because its start could not be recorded); `keepOnFailure` for what is
  // happening anyway (a safety dump's reload), which the next write that succeeds records
  if (opts.keepOnFailure) active.marker = next;
  writeMarkerSync(active.path, next);
  active.marker = next;
}

/** Records a child process in the active marker (called right after each spawn). */
export function noteChildStarted(
  pid: number | undefined,
  what: string,
  container?: MarkerChild['container'],
): void {
  if (!active || !pid) return;
  const child: MarkerChild = {
    pid,
    procStart: processStartTime(pid),
    what,
    ...(container ? { container } : {}),
  };
  updateChildren([...(active.marker.children ?? []), child]);
}

/** Removes a child that has ended from the active marker. */
export function noteChildEnded(pid: number | undefined): void {
  if (!active || !pid) return;
  updateChildren((active.marker.children ?? []).filter((c) => c.pid !== pid));
}

/** Removes the marker (after Neo4j is back). */
export async function clearStoppedMarker(backupDir: string): Promise<void> {
  const path = join(backupDir, STOPPED_MARKER);
  rmSync(path, { force: true });
  if (active?.path === path) {
    active.dropNote();
    active = undefined;
  }
}

/** The marker in `backupDir`, whoever wrote it. */
export async function readStoppedMarker(backupDir: string): Promise<StoppedMarker | undefined> {
  try {
    return JSON.parse(await readFile(join(backupDir, STOPPED_MARKER), 'utf8')) as StoppedMarker;
  } catch {
    return undefined;
  }
}

/** The same, synchronously (the guardian's poll). */
export function readStoppedMarkerSync(backupDir: string): StoppedMarker | undefined {
  try {
    return JSON.parse(readFileSync(join(backupDir, STOPPED_MARKER), 'utf8')) as StoppedMarker;
  } catch {
    return undefined;
  }
}

/**
 * Whether a process runs: alive, not a zombie (an orphan nobody reaped yet has ended), and with
 * the recorded start time when one was recorded (else the PID was reused).
 */
export function processAlive(pid: number, procStart: string | null): boolean {
  if (!isLockHolderAlive({ pid, host: hostname(), procStart, startedAt: '', command: '', token: '' }))
    return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The token of the backups-folder lock when this process holds it. */
function ownLockToken(backupDir: string): string | undefined {
  try {
    const lock = JSON.parse(readFileSync(join(backupDir, LOCK_FILE), 'utf8')) as LockInfo;
    return lock.pid === process.pid && placeOf(lock) === 'here' ? lock.token : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A marker left by a qnb run that has ended, if any. Called under the backups-folder lock: a
 * marker written under another lock than the one held now is orphaned wherever it was written
 * (its run no longer holds the lock, so it ended — e.g. a sidecar killed and recreated by
 * compose, a new container); without that record, only this PID namespace's markers are judged.
 */
export async function orphanedStoppedMarker(backupDir: string): Promise<StoppedMarker | undefined> {
  const m = await readStoppedMarker(backupDir);
  if (!m) return undefined;
  const held = ownLockToken(backupDir);
  if (m.lockToken && held && m.lockToken !== held) return m;
  // a marker of another container (or host) is not ours to act on; one of an earlier run of
  // this container (restarted) is: that run's processes, its guardian too, have all ended
  const where = placeOf(m);
  if (where === 'elsewhere') return undefined;
  if (where === 'gone') return m;
  return processAlive(m.pid, m.procStart) && m.pid !== process.pid ? undefined : m;
}
