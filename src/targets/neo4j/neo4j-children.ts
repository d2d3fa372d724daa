/**
 * Waiting for what a dead qnb left in flight before deciding whether Neo4j runs: the child
 * processes recorded in the stopped marker (a `neo4j stop`, a `docker stop -t 120`, a
 * `neo4j-admin`), and the throwaway `neo4j-admin` containers a Docker runtime ran — such a
 * container goes on loading or dumping after its `docker run` client died with qnb.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type MarkerChild, processAlive, type StoppedMarker } from './neo4j-marker.js';
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
