/**
 * Waiting for what a dead qnb left in flight before deciding whether Neo4j runs: the child
 * processes recorded in the stopped marker (a `neo4j stop`, a `docker stop -t 120`, a
 * `neo4j-admin`), and the throwaway `neo4j-admin` containers a Docker runtime ran — such a
 * container goes on loading or dumping after its `docker run` client died with qnb.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Reporter } from '../../core/events.js';
import { placeOf } from '../../core/process-place.js';
import { type MarkerChild, processAlive, STOPPED_MARKER, type StoppedMarker } from './neo4j-marker.js';
import { runCommand } from './neo4j-runtime.js';

/** Whether the child's admin container still runs (`docker inspect`; gone or exited = false). */
async function containerRunning(c: MarkerChild): Promise<boolean> {
  if (!c.container) return false;
  const r = await runCommand(
    c.container.docker,
    ['inspect', '--format', '{{.State.Running}}', c.container.name],
    `neo4j-admin container "${c.container.name}"`,
    { timeoutMs: 30_000 },
  ).catch(() => ({ code: 1, stdout: '' }));
  return r.code === 0 && r.stdout.trim() === 'true';
}

/** Waits until every child recorded in the marker, and its admin container, has ended (bounded). */
export async function waitForChildren(
  m: StoppedMarker,
  log: (msg: string) => void,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const c of m.children ?? []) {
    const what = `${c.what.split(' ').slice(0, 4).join(' ')} (PID ${c.pid})`;
    if (processAlive(c.pid, c.procStart)) {
      log(`waiting for ${what} to end`);
      while (processAlive(c.pid, c.procStart) && Date.now() < deadline) await sleep(200);
    }
    if (!(await containerRunning(c))) continue;
    log(`waiting for the neo4j-admin container ${c.container?.name} of ${what} to end`);
    while (Date.now() < deadline && (await containerRunning(c))) await sleep(500);
  }
}

/**
 * A stop begun by a qnb in another container goes on in the engine (`docker stop -t 120`) or in
 * its own process after that container is gone, where no PID here can be waited for: such a
 * marker is acted on only once this long has passed since its last update.
 */
export const ELSEWHERE_SETTLE_MS = 130_000;

/** For a marker written in another container: waits until `settleMs` has passed since its last update. */
export async function settleElsewhere(
  backupDir: string,
  marker: StoppedMarker,
  settleMs: number,
  reporter: Reporter,
): Promise<void> {
  if (placeOf(marker) !== 'elsewhere') return;
  const mtime = await stat(join(backupDir, STOPPED_MARKER)).then(
    (st) => st.mtimeMs,
    () => 0,
  );
  const wait = mtime + settleMs - Date.now();
  if (wait <= 0) return;
  reporter.emit({
    type: 'step',
    target: 'neo4j',
    name: 'neo4j',
    message: `Neo4j was stopped by a qnb run in another container that has ended; waiting ${Math.ceil(wait / 1000)} s for a stop it began to finish`,
  });
  await sleep(wait);
}
