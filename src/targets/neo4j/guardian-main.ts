/**
 * The guardian process (see neo4j-guardian.ts): `node guardian-main.js BACKUP_DIR TOKEN`, started
 * detached by qnb with the Bolt settings in QNB_GUARDIAN_BOLT. It polls the marker; when the
 * marker is gone or carries another token, qnb finished and it exits; when qnb died, it brings
 * Neo4j back, records what it did and exits. SIGTERM (qnb finished normally) ends it at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BoltOptions } from './neo4j-bolt.js';
import { GUARDIAN_ENV, recoverFromMarker, runtimeOf, writeGuardianReport } from './neo4j-guardian.js';
import { processAlive, readStoppedMarkerSync } from './neo4j-marker.js';

const POLL_MS = 200;

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} guardian ${process.pid}: ${msg}\n`);
}

async function main(): Promise<number> {
  const [backupDir, token] = process.argv.slice(2);
  const raw = process.env[GUARDIAN_ENV];
  // the children it starts (neo4j start, neo4j-admin check) must not inherit the Bolt settings;
  // they get the rest: qnb started this process with the environment its own runs of them had
  // (config.neo4j.env: JAVA_HOME, PATH, NEO4J_CONF, …)
  delete process.env[GUARDIAN_ENV];
  if (!backupDir || !token || !raw) {
    log('usage: guardian-main BACKUP_DIR TOKEN (with QNB_GUARDIAN_BOLT set)');
    return 2;
  }
  const bolt = JSON.parse(raw) as BoltOptions;
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGHUP', () => {});
  process.on('SIGINT', () => {});
  let first = true;
  for (;;) {
    const m = readStoppedMarkerSync(backupDir);
    if (!m || m.token !== token) return 0;
    if (first) {
      log(`watching qnb PID ${m.pid} (Neo4j stopped by it since ${m.since})`);
      first = false;
    }
    if (!processAlive(m.pid, m.procStart)) {
      log(`qnb PID ${m.pid} ended while Neo4j was stopped by it; taking over`);
      try {
        const r = await recoverFromMarker(backupDir, m, bolt, log, runtimeOf(m.runtime, { ...process.env }));
        log(r.message);
        await writeGuardianReport(backupDir, r);
        return 0;
      } catch (err) {
        const message = `could not start Neo4j again: ${(err as Error).message}; the next qnb run tries again`;
        log(message);
        await writeGuardianReport(backupDir, {
          at: new Date().toISOString(),
          qnbPid: m.pid,
          action: 'failed',
          message,
        });
        return 1;
      }
    }
    await sleep(POLL_MS);
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    log(`failed: ${(err as Error).message}`);
    process.exit(1);
  },
);
