/**
 * `qnb doctor`'s Neo4j checks (moved from core/doctor.ts): configured, runtime, Bolt and
 * credentials, and the live database: one that is empty while its newest valid backup is not
 * usually means it was wiped (e.g. a failed load), and starting it must not read as "everything
 * is in place".
 */
import { constants, existsSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Neo4jConfig } from '../../config/schema.js';
import { LockedError } from '../../core/errors.js';
import { acquireLock, type Lock } from '../../core/lock.js';
import { ownContainerIdSync } from '../../core/process-place.js';
import type { RepoArtifact } from '../../core/repository.js';
import type { DoctorCheck } from '../target.js';
import { boltAttempt, type GraphCounts, openBolt } from './neo4j-bolt.js';
import { enginePath } from './neo4j-docker-host.js';
import { halfLoadedMessage, readHalfLoaded } from './neo4j-guardian.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

interface Deps {
  config: Readonly<Neo4jConfig>;
  /** The backups folder (crash marker, guardian report, half-loaded notice). */
  backupDir: string;
  /** Throws a ConfigError when Neo4j is not configured. */
  neo4j: () => Neo4jRuntime;
  /** Starts a Neo4j left stopped by a dead qnb; returns a message when it did. */
  recoverNeo4j: () => Promise<string | undefined>;
  /** The backups folder's artifacts, newest first (Repository.scan()). */
  artifacts: () => Promise<readonly RepoArtifact[]>;
}

const msg = (err: unknown) => (err as Error).message;
const hint = (err: unknown) => (err as { hint?: string }).hint;

/** Every Neo4j check; never throws for a failed check. */
export async function neo4jChecks(d: Deps): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  const c = d.config;
  if (c.mode === 'export' && !c.container && !c.home) {
    // the online export and its restore need Bolt only
    out.push({
      area: 'neo4j',
      name: 'Neo4j configured',
      ok: true,
      detail: 'export mode over Bolt (dumps and verify --deep also need NEO4J_HOME or NEO4J_CONTAINER)',
    });
  } else if (!(await runtimeChecks(d, out))) return out;
  await boltCheck(d, out);
  return out;
}

/**
 * Runs `recover` holding the backups folder lock, as every other command recovers: another qnb
 * run holding it owns Neo4j's stop and start (and recovers itself), so then nothing is done —
 * doctor may wait minutes on a dead run's children, and starting Neo4j in the middle of a live
 * run's dump or load would break it. A backups folder that does not exist holds no marker.
 */
async function unlessLocked(
  dir: string,
  recover: () => Promise<string | undefined>,
): Promise<string | undefined> {
  if (!existsSync(dir)) return recover();
  let lock: Lock;
  try {
    lock = await acquireLock(dir, 'doctor');
  } catch (err) {
    if (err instanceof LockedError) return undefined;
    // a folder qnb cannot write (full, read-only): recover without the lock, as doctor did before
    return recover();
  }
  try {
    return await recover();
  } finally {
    await lock.release();
  }
}

/** The local install or container: false when Neo4j is not configured at all. */
async function runtimeChecks(d: Deps, out: DoctorCheck[]): Promise<boolean> {
  let runtime: Neo4jRuntime;
  try {
    runtime = d.neo4j();
  } catch (err) {
    out.push({ area: 'neo4j', name: 'Neo4j configured', ok: false, detail: msg(err), fix: hint(err) });
    return false;
  }
  try {
    const recovered = await unlessLocked(d.backupDir, d.recoverNeo4j);
    if (recovered)
      out.push({
        area: 'neo4j',
        name: 'left stopped by a crashed qnb',
        ok: true,
        warning: true,
        detail: recovered,
      });
  } catch (err) {
    out.push({
      area: 'neo4j',
      name: 'restart after a crashed qnb',
      ok: false,
      detail: msg(err),
      fix: hint(err),
    });
  }
  const half = await readHalfLoaded(d.backupDir);
  if (half) {
    const { message, hint } = halfLoadedMessage(half);
    out.push({ area: 'neo4j', name: 'interrupted restore', ok: false, detail: message, fix: hint });
  }
  try {
    await runtime.preflight();
    out.push({
      area: 'neo4j',
      name: runtime.spec.kind === 'docker' ? 'container exists and runs' : 'neo4j-admin present',
      ok: true,
      detail: runtime.describe(),
    });
  } catch (err) {
    out.push({
      area: 'neo4j',
      name: runtime.spec.kind === 'docker' ? 'container exists and runs' : 'neo4j-admin present',
      ok: false,
      detail: msg(err),
      fix: hint(err),
    });
  }
  if (runtime.spec.kind === 'docker') await engineFolderCheck(d, out);
  if (runtime.spec.kind === 'local') {
    const bin = join(runtime.spec.home, 'bin', 'neo4j');
    const ok = await access(bin, constants.X_OK).then(
      () => true,
      () => false,
    );
    out.push({
      area: 'neo4j',
      name: 'bin/neo4j executable',
      ok,
      detail: bin,
      ...(ok ? {} : { fix: 'check NEO4J_HOME' }),
    });
  }
  return true;
}

/** In a sidecar: the backups folder must be on a mount the engine can hand to admin containers. */
async function engineFolderCheck(d: Deps, out: DoctorCheck[]): Promise<void> {
  if (!ownContainerIdSync()) return;
  const name = 'backups folder reachable by admin containers';
  try {
    const source = await enginePath(d.backupDir, 'docker', d.config.env as NodeJS.ProcessEnv | undefined);
    out.push({ area: 'neo4j', name, ok: true, detail: `${d.backupDir} is ${source} on the Docker host` });
  } catch (err) {
    out.push({ area: 'neo4j', name, ok: false, detail: msg(err), fix: hint(err) });
  }
}

async function boltCheck(d: Deps, out: DoctorCheck[]): Promise<void> {
  const c = d.config;
  try {
    const opts = { uri: c.uri, user: c.user, password: c.password, database: c.database };
    await boltAttempt(opts, 5_000); // fails fast when Neo4j is down (no driver retry backoff)
    const bolt = await openBolt(opts);
    try {
      const version = await bolt.version();
      const counts = await bolt.counts();
      out.push({
        area: 'neo4j',
        name: 'Bolt and credentials',
        ok: true,
        detail: `${c.uri} (Neo4j ${version}; ${counts.nodes} nodes, ${counts.relationships} relationships)`,
      });
      const empty = emptyDatabaseWarning(c.database, counts, await d.artifacts());
      if (empty)
        out.push({
          area: 'neo4j',
          name: 'live database',
          ok: true,
          warning: true,
          detail: `${empty}; if it was not emptied on purpose: \`qnb restore-neo4j --latest\``,
        });
    } finally {
      await bolt.close();
    }
  } catch (err) {
    out.push({ area: 'neo4j', name: 'Bolt and credentials', ok: false, detail: msg(err), fix: hint(err) });
  }
}

/**
 * A warning when `live` is empty but the newest valid backup of `database` holds nodes or
 * relationships; undefined otherwise. `artifacts` are newest first (Repository.scan()).
 */
export function emptyDatabaseWarning(
  database: string,
  live: GraphCounts,
  artifacts: readonly RepoArtifact[],
): string | undefined {
  if (live.nodes > 0 || live.relationships > 0) return undefined;
  const newest = artifacts.find(
    (a) => a.valid && a.artifact.target === 'neo4j' && a.artifact.name === database,
  )?.artifact;
  // a dump taken while the graph changed records ranges (neo4j-count-range.ts)
  const nodes = newest?.counts.nodes ?? newest?.counts.nodesMax ?? 0;
  const rels = newest?.counts.relationships ?? newest?.counts.relationshipsMax ?? 0;
  if (!newest || (nodes === 0 && rels === 0)) return undefined;
  return `database "${database}" is empty, but its newest backup ${newest.file} holds ${nodes} nodes and ${rels} relationships`;
}
