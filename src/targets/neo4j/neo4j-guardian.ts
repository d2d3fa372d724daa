/**
 * Guarantee 3 when qnb dies: before qnb stops Neo4j it starts a guardian, a small detached
 * process (its own session, no terminal, logging to the backups folder) that watches the crash
 * marker (neo4j-marker.ts). When qnb finishes normally it removes the marker and ends the
 * guardian. When qnb dies while Neo4j is stopped by it (kill -9, the OOM killer, a timeout), the
 * guardian waits for every child qnb left in flight (`neo4j stop`, `docker stop`, `neo4j-admin`)
 * to end, then starts Neo4j and waits for Bolt — within seconds, not at the next cron run — and
 * records what it did; the next qnb run and `qnb status` show it.
 *
 * The next qnb run is the second line of defence (the guardian may have been killed with qnb):
 * it does the same, race-free — children first, then "is Neo4j up" means "Bolt answers".
 *
 * An interrupted restore (a kill during `neo4j-admin database load`) may leave a half-loaded
 * store: Neo4j is started only when `neo4j-admin database check` passes, and a notice naming the
 * safety dump and the command that loads it back stays until a Neo4j restore succeeds.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Reporter } from '../../core/events.js';
import { writeFileAtomic } from '../../core/fs-safe.js';
import { processStartTime } from '../../core/lock.js';
import { type BoltOptions, waitForBolt } from './neo4j-bolt.js';
import { ELSEWHERE_SETTLE_MS, settleElsewhere, waitForChildren } from './neo4j-children.js';
import { createDockerRuntime } from './neo4j-docker-runtime.js';
import {
  orphanedStoppedMarker,
  processAlive,
  readStoppedMarker,
  STOPPED_MARKER,
  type StoppedMarker,
  updateStoppedMarker,
} from './neo4j-marker.js';
import { createLocalRuntime, type Neo4jRuntime, type RuntimeSpec } from './neo4j-runtime.js';

/** The guardian's log (its stdout and stderr), in the backups folder. */
export const GUARDIAN_LOG = '.qnb-neo4j-guardian.log';
/** What the last guardian did after qnb died; shown and removed by the next qnb run. */
export const GUARDIAN_REPORT = '.qnb-neo4j-guardian.json';
/** Left by an interrupted load; removed when a Neo4j restore succeeds. */
export const HALF_LOADED = '.qnb-neo4j-half-loaded.json';
/** Environment variable that hands the Bolt settings (with the password) to the guardian. */
export const GUARDIAN_ENV = 'QNB_GUARDIAN_BOLT';

/** How long recovery waits for children qnb left in flight (a `docker stop -t 120`, a load). */
const CHILDREN_TIMEOUT_MS = 15 * 60_000;
/** How long Neo4j may take to answer Bolt after a start. */
const START_TIMEOUT_MS = 180_000;

/** What a guardian did after its qnb died. */
export interface GuardianReport {
  at: string;
  qnbPid: number;
  action: 'started' | 'not-needed' | 'left-stopped' | 'failed';
  message: string;
}

/** A load that was cut short. */
export interface HalfLoadedNotice {
  since: string;
  database: string;
  file: string;
  /** The safety dump taken before the restore (repository-relative), if there was one. */
  safety?: string;
  /** `neo4j-admin database check` passed, so Neo4j was started. */
  loadable: boolean;
  runtime: RuntimeSpec;
}

/** A running guardian, as qnb holds it. */
export interface GuardianHandle {
  /** Ends the guardian (qnb finished normally). */
  end(): void;
}

/** The runtime a marker describes; `env` for its processes, as in createLocalRuntime / createDockerRuntime. */
export function runtimeOf(spec: RuntimeSpec, env?: NodeJS.ProcessEnv): Neo4jRuntime {
  return spec.kind === 'docker'
    ? createDockerRuntime(spec.container, 'docker', env)
    : createLocalRuntime(spec.home, env);
}

/** The guardian's entry script next to this module (.js when built, .ts under tsx). */
function guardianScript(): string | undefined {
  for (const ext of ['js', 'ts']) {
    const path = fileURLToPath(new URL(`./guardian-main.${ext}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  return undefined;
}

/**
 * Starts the guardian of the marker qnb just wrote. The Bolt settings travel in the child's
 * environment (`env`: config.neo4j.env), never its argv. Returns a no-op handle (and warns) when it cannot start.
 */
export function startGuardian(
  backupDir: string,
  marker: StoppedMarker,
  bolt: BoltOptions,
  reporter: Reporter,
  env: NodeJS.ProcessEnv = process.env,
): GuardianHandle {
  const script = guardianScript();
  let pid: number | undefined;
  try {
    if (!script) throw new Error('guardian-main script not found');
    const log = openSync(join(backupDir, GUARDIAN_LOG), 'a', 0o600);
    try {
      const child = spawn(process.execPath, [...process.execArgv, script, backupDir, marker.token ?? ''], {
        detached: true,
        stdio: ['ignore', log, log],
        env: { ...env, [GUARDIAN_ENV]: JSON.stringify(bolt) },
      });
      child.on('error', () => {});
      child.unref();
      pid = child.pid;
    } finally {
      closeSync(log);
    }
    if (pid) updateStoppedMarker({ guardian: { pid, procStart: processStartTime(pid) } });
  } catch (err) {
    reporter.emit({
      type: 'warning',
      target: 'neo4j',
      message: `cannot start the guardian that restarts Neo4j if qnb dies: ${(err as Error).message}`,
    });
  }
  return {
    end() {
      if (!pid) return;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {}
      pid = undefined;
    },
  };
}

/**
 * Whether Bolt answers now (a wrong password still means the server is up). Capped at a few
 * seconds: the driver retries a query against a down server for 30 s, and every second spent
 * here is downtime.
 */
export async function boltAnswers(bolt: BoltOptions): Promise<boolean> {
  const probe = waitForBolt(bolt, 1_500).then(
    () => true,
    (err) => (err as { code?: string }).code === 'E_AUTH',
  );
  return Promise.race([probe, sleep(4_000, false, { ref: false })]);
}

/** Whether `neo4j-admin database check` passes on the (stopped) database. */
async function storeLoadable(runtime: Neo4jRuntime, database: string): Promise<boolean> {
  const admin = runtime.admin(['database', 'check', database]);
  return admin.done.then(
    () => true,
    () => false,
  );
}

/** One line for people about an interrupted load, with what to do. */
export function halfLoadedMessage(n: HalfLoadedNotice): { message: string; hint: string } {
  return {
    message: `neo4j "${n.database}": a restore was interrupted while loading ${n.file} (${n.since}); the database may be half-loaded${n.loadable ? '' : ' and Neo4j was left stopped'}`,
    hint: n.safety
      ? `what was there before is in the safety dump ${n.safety}: \`qnb restore-neo4j ${n.safety} --yes\` loads it back`
      : `load a good dump: \`qnb restore-neo4j --latest --yes\``,
  };
}

/** The interrupted-load notice, if any. */
export async function readHalfLoaded(backupDir: string): Promise<HalfLoadedNotice | undefined> {
  return readJson<HalfLoadedNotice>(join(backupDir, HALF_LOADED));
}

/** Removes the interrupted-load notice (a Neo4j restore succeeded). */
export async function clearHalfLoaded(backupDir: string): Promise<void> {
  await rm(join(backupDir, HALF_LOADED), { force: true });
}

/** What the last guardian did, if the next run has not shown it yet. */
export async function readGuardianReport(backupDir: string): Promise<GuardianReport | undefined> {
  return readJson<GuardianReport>(join(backupDir, GUARDIAN_REPORT));
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Removes the marker only if it is still the one we acted on. */
async function clearMarkerOf(backupDir: string, m: StoppedMarker): Promise<void> {
  const now = await readStoppedMarker(backupDir);
  if (now && now.token === m.token && now.pid === m.pid)
    await rm(join(backupDir, STOPPED_MARKER), { force: true });
}

/**
 * Brings Neo4j back after the qnb that wrote `m` died: waits for its children, then starts Neo4j
 * if it ran before and Bolt does not answer — unless a load was cut short and the store fails
 * `neo4j-admin database check`. Clears the marker when done (it stays when the start fails).
 */
export async function recoverFromMarker(
  backupDir: string,
  m: StoppedMarker,
  bolt: BoltOptions,
  log: (msg: string) => void,
  runtime: Neo4jRuntime = runtimeOf(m.runtime),
): Promise<GuardianReport> {
  const report = (action: GuardianReport['action'], message: string): GuardianReport => ({
    at: new Date().toISOString(),
    qnbPid: m.pid,
    action,
    message,
  });
  await waitForChildren(m, log, CHILDREN_TIMEOUT_MS);
  if (!m.wasRunning) {
    await clearMarkerOf(backupDir, m);
    return report('not-needed', 'Neo4j was not running before qnb stopped it; left as it was');
  }
  if (m.loading) {
    log(`a load of ${m.loading.file} was in flight; checking the store (neo4j-admin database check)`);
    const loadable = await storeLoadable(runtime, m.loading.database);
    const notice: HalfLoadedNotice = {
      since: m.loading.since,
      database: m.loading.database,
      file: m.loading.file,
      ...(m.loading.safety ? { safety: m.loading.safety } : {}),
      loadable,
      runtime: m.runtime,
    };
    // best effort: a full backups folder must not keep a store that passed its check from
    // being started (the report below still says what happened)
    const written = await writeFileAtomic(join(backupDir, HALF_LOADED), JSON.stringify(notice)).then(
      () => true,
      (err: Error) => {
        log(`could not write ${HALF_LOADED}: ${err.message}`);
        return false;
      },
    );
    if (!loadable) {
      // the marker stays when the notice could not be written: with its `loading`, the next
      // run checks the store again instead of forgetting that it may be half-loaded
      if (written) await clearMarkerOf(backupDir, m);
      const { message, hint } = halfLoadedMessage(notice);
      return report('left-stopped', `${message} — ${hint}`);
    }
  }
  if (await boltAnswers(bolt)) {
    await clearMarkerOf(backupDir, m);
    return report('not-needed', `Neo4j (${runtime.describe()}) already answers over Bolt`);
  }
  log(`starting Neo4j (${runtime.describe()}), stopped by qnb PID ${m.pid} since ${m.since}`);
  await runtime.start();
  await waitForBolt(bolt, START_TIMEOUT_MS);
  await clearMarkerOf(backupDir, m);
  const down = ((Date.now() - Date.parse(m.since)) / 1000).toFixed(1);
  return report(
    'started',
    `Neo4j (${runtime.describe()}) was left stopped by an interrupted qnb run (PID ${m.pid}); starting it again — it answers over Bolt, ${down} s after it was stopped`,
  );
}

/** Writes the guardian's report for the next qnb run and `status`. */
export async function writeGuardianReport(backupDir: string, r: GuardianReport): Promise<void> {
  await writeFileAtomic(join(backupDir, GUARDIAN_REPORT), JSON.stringify(r));
}

/**
 * The next qnb run's recovery (second line of defence): shows what a guardian did since the last
 * run; for a marker whose qnb died, waits for its guardian if that still works, and otherwise
 * recovers itself. Returns a message for people when Neo4j was (or had to be) started again.
 */
export async function recoverAfterCrash(deps: {
  backupDir: string;
  bolt: BoltOptions;
  reporter: Reporter;
  runtimeFor: (spec: RuntimeSpec) => Neo4jRuntime;
  settleMs?: number;
}): Promise<string | undefined> {
  const { backupDir, reporter } = deps;
  let marker = await orphanedStoppedMarker(backupDir);
  if (marker) await settleElsewhere(backupDir, marker, deps.settleMs ?? ELSEWHERE_SETTLE_MS, reporter);
  if (marker?.guardian && processAlive(marker.guardian.pid, marker.guardian.procStart)) {
    // its guardian is on it: wait for it rather than act twice
    const deadline = Date.now() + CHILDREN_TIMEOUT_MS + START_TIMEOUT_MS;
    while (processAlive(marker.guardian.pid, marker.guardian.procStart) && Date.now() < deadline)
      await sleep(200);
    marker = await orphanedStoppedMarker(backupDir);
  }
  let message: string | undefined;
  const done = await readGuardianReport(backupDir);
  if (done) {
    message = `while qnb was not running, its guardian acted (${done.at}): ${done.message}`;
    reporter.emit({ type: 'warning', target: 'neo4j', message });
    await rm(join(backupDir, GUARDIAN_REPORT), { force: true });
  }
  if (!marker) return message;
  const r = await recoverFromMarker(backupDir, marker, deps.bolt, () => {}, deps.runtimeFor(marker.runtime));
  if (r.action === 'not-needed') return message;
  reporter.emit({ type: 'warning', target: 'neo4j', message: r.message });
  return message ? `${message}; ${r.message}` : r.message;
}

/** What `qnb status` and `doctor` say about Neo4j being stopped by qnb, restarted by a guardian or half-loaded. */
export interface Neo4jNotice {
  /** A half-loaded database is a problem; the rest is information. */
  problem: boolean;
  message: string;
  hint?: string;
}

/** The notices of the backups folder (reads only). */
export async function neo4jNotices(backupDir: string): Promise<Neo4jNotice[]> {
  const out: Neo4jNotice[] = [];
  const half = await readHalfLoaded(backupDir);
  if (half) out.push({ problem: true, ...halfLoadedMessage(half) });
  const report = await readGuardianReport(backupDir);
  if (report)
    out.push({
      problem: report.action === 'failed' || report.action === 'left-stopped',
      message: `after qnb (PID ${report.qnbPid}) died, its guardian acted (${report.at}): ${report.message}`,
    });
  const m = await readStoppedMarker(backupDir);
  if (m) {
    const alive = processAlive(m.pid, m.procStart);
    out.push({
      problem: !alive,
      message: alive
        ? `Neo4j is stopped by qnb (PID ${m.pid}) since ${m.since} for a dump or load`
        : `Neo4j was stopped by qnb (PID ${m.pid}, no longer running) at ${m.since}`,
      ...(alive ? {} : { hint: 'run `qnb doctor` to start it again' }),
    });
  }
  return out;
}
