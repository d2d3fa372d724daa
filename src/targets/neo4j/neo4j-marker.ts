/**
 * Guarantee 3 across crashes: before qnb stops Neo4j it writes a marker in the backups folder;
 * it removes the marker after Neo4j answers again. A marker left by a dead qnb makes the next
 * run (or `doctor`) start Neo4j again.
 */
import { readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../core/fs-safe.js';
import { isLockHolderAlive, processStartTime } from '../../core/lock.js';
import type { RuntimeSpec } from './neo4j-runtime.js';

/** File name of the marker inside the backups folder. */
export const STOPPED_MARKER = '.qnb-neo4j-stopped.json';

/** What the marker holds. */
export interface StoppedMarker {
  runtime: RuntimeSpec;
  pid: number;
  procStart: string | null;
  host: string;
  since: string;
  /** Whether Neo4j was running before qnb stopped it (only then is it started again). */
  wasRunning: boolean;
}

/** Writes the marker (before stopping Neo4j). */
export async function writeStoppedMarker(
  backupDir: string,
  runtime: RuntimeSpec,
  wasRunning: boolean,
): Promise<void> {
  const m: StoppedMarker = {
    runtime,
    pid: process.pid,
    procStart: processStartTime(process.pid),
    host: hostname(),
    since: new Date().toISOString(),
    wasRunning,
  };
  await writeFileAtomic(join(backupDir, STOPPED_MARKER), JSON.stringify(m));
}

/** Removes the marker (after Neo4j is back). */
export async function clearStoppedMarker(backupDir: string): Promise<void> {
  await rm(join(backupDir, STOPPED_MARKER), { force: true });
}

/** A marker left by a qnb process that is no longer running on this host, if any. */
export async function orphanedStoppedMarker(backupDir: string): Promise<StoppedMarker | undefined> {
  let m: StoppedMarker;
  try {
    m = JSON.parse(await readFile(join(backupDir, STOPPED_MARKER), 'utf8')) as StoppedMarker;
  } catch {
    return undefined;
  }
  if (m.host !== hostname()) return undefined;
  const alive = isLockHolderAlive({
    pid: m.pid,
    host: m.host,
    procStart: m.procStart,
    startedAt: m.since,
    command: '',
    token: '',
  });
  return alive && m.pid !== process.pid ? undefined : m;
}
