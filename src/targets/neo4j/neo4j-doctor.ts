/** `qnb doctor`'s Neo4j checks (moved from core/doctor.ts): configured, runtime, Bolt and credentials. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { Neo4jConfig } from '../../config/schema.js';
import type { DoctorCheck } from '../target.js';
import { openBolt } from './neo4j-bolt.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

interface Deps {
  config: Readonly<Neo4jConfig>;
  /** Throws a ConfigError when Neo4j is not configured. */
  neo4j: () => Neo4jRuntime;
  /** Starts a Neo4j left stopped by a dead qnb; returns a message when it did. */
  recoverNeo4j: () => Promise<string | undefined>;
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
    const recovered = await d.recoverNeo4j();
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

async function boltCheck(d: Deps, out: DoctorCheck[]): Promise<void> {
  const c = d.config;
  try {
    const bolt = await openBolt({ uri: c.uri, user: c.user, password: c.password, database: c.database });
    try {
      const version = await bolt.version();
      const counts = await bolt.counts();
      out.push({
        area: 'neo4j',
        name: 'Bolt and credentials',
        ok: true,
        detail: `${c.uri} (Neo4j ${version}; ${counts.nodes} nodes, ${counts.relationships} relationships)`,
      });
    } finally {
      await bolt.close();
    }
  } catch (err) {
    out.push({ area: 'neo4j', name: 'Bolt and credentials', ok: false, detail: msg(err), fix: hint(err) });
  }
}
