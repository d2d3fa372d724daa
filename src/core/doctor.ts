/**
 * `qnb doctor`: checks every prerequisite and says what to do, one line each. It also starts
 * a Neo4j that a crashed qnb left stopped (guarantee 3).
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QnbConfig } from '../config/schema.js';
import { openBolt } from '../targets/neo4j/neo4j-bolt.js';
import type { Neo4jRuntime } from '../targets/neo4j/neo4j-runtime.js';
import { qdrantAccessCheck } from '../targets/qdrant/qdrant-access.js';
import type { QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { ensureDir } from './fs-safe.js';
import { isLockHolderAlive, LOCK_FILE, type LockInfo } from './lock.js';
import type { Repository } from './repository.js';

/** One check. */
export interface DoctorCheck {
  area: 'config' | 'backups' | 'qdrant' | 'neo4j';
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do when not ok. */
  fix?: string;
  /** Not an error, but worth knowing. */
  warning?: boolean;
}

interface Deps {
  config: Readonly<QnbConfig>;
  repository: Repository;
  qdrant: () => QdrantApi;
  /** Throws a ConfigError when Neo4j is not configured. */
  neo4j: () => Neo4jRuntime;
  /** Starts a Neo4j left stopped by a dead qnb; returns a message when it did. */
  recoverNeo4j: () => Promise<string | undefined>;
}

const msg = (err: unknown) => (err as Error).message;
const hint = (err: unknown) => (err as { hint?: string }).hint;

async function backupsChecks(d: Deps, out: DoctorCheck[]): Promise<void> {
  const dir = d.config.backupDir;
  try {
    await ensureDir(dir);
    const probe = join(dir, `.qnb-tmp-doctor-${randomBytes(3).toString('hex')}`);
    await writeFile(probe, 'x', { mode: 0o600 });
    await rm(probe, { force: true });
    out.push({ area: 'backups', name: 'backups folder writable', ok: true, detail: dir });
  } catch (err) {
    out.push({
      area: 'backups',
      name: 'backups folder writable',
      ok: false,
      detail: msg(err),
      fix: hint(err) ?? `check permissions of ${dir}, or set QNB_BACKUP_DIR`,
    });
    return;
  }
  const scan = await d.repository.scan();
  const newest = new Map<string, number>();
  for (const a of scan.artifacts)
    if (a.valid && !newest.has(`${a.artifact.target}:${a.artifact.name}`))
      newest.set(`${a.artifact.target}:${a.artifact.name}`, a.artifact.bytes);
  const expected = [...newest.values()].reduce((s, b) => s + b, 0);
  const fs = await statfs(dir);
  const free = fs.bavail * fs.bsize;
  const need = Math.ceil(expected * 1.2);
  out.push({
    area: 'backups',
    name: 'free disk space',
    ok: free >= need,
    detail: `${(free / 2 ** 30).toFixed(1)} GiB free; the last full set took ${(expected / 2 ** 30).toFixed(2)} GiB`,
    ...(free < need ? { fix: 'free space, run `qnb prune`, or set QNB_BACKUP_DIR to a larger disk' } : {}),
  });
  try {
    const lock = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as LockInfo;
    const alive = isLockHolderAlive(lock);
    out.push({
      area: 'backups',
      name: 'lock',
      ok: true,
      warning: true,
      detail: alive
        ? `held by ${lock.command} (PID ${lock.pid} on ${lock.host})`
        : `stale lock of ${lock.command} (PID ${lock.pid}); the next run recovers it`,
    });
  } catch {
    // no lock: nothing running
  }
}

async function qdrantChecks(d: Deps, out: DoctorCheck[]): Promise<void> {
  const api = d.qdrant();
  try {
    const version = await api.version();
    out.push({
      area: 'qdrant',
      name: 'Qdrant reachable',
      ok: true,
      detail: `${api.baseUrl} (Qdrant ${version})`,
    });
  } catch (err) {
    out.push({
      area: 'qdrant',
      name: 'Qdrant reachable',
      ok: false,
      detail: msg(err),
      fix: hint(err) ?? 'check QDRANT_URL',
    });
    return;
  }
  try {
    const names = await api.listCollections();
    out.push({
      area: 'qdrant',
      name: 'API key accepted',
      ok: true,
      detail: d.config.qdrant.apiKey ? 'key accepted' : 'no key needed',
    });
    out.push(await qdrantAccessCheck(api));
    const missing = d.config.qdrant.collections.filter((c) => !names.includes(c));
    out.push({
      area: 'qdrant',
      name: 'collections',
      ok: missing.length === 0,
      detail: missing.length
        ? `not found: ${missing.join(', ')} (existing: ${names.join(', ') || 'none'})`
        : `${names.length} collection(s): ${names.join(', ') || '—'}`,
      ...(missing.length ? { fix: 'fix QDRANT_COLLECTIONS' } : {}),
    });
    out.push({
      area: 'qdrant',
      name: 'server disk for snapshots',
      ok: true,
      warning: true,
      detail:
        'a snapshot needs about 2× the collection size free on the Qdrant server (not visible through the API)',
    });
  } catch (err) {
    out.push({
      area: 'qdrant',
      name: 'API key accepted',
      ok: false,
      detail: msg(err),
      fix: hint(err) ?? 'set QDRANT_API_KEY',
    });
  }
}

async function neo4jChecks(d: Deps, out: DoctorCheck[]): Promise<void> {
  const c = d.config.neo4j;
  if (c.mode === 'export' && !c.container && !c.home) {
    // the online export and its restore need Bolt only
    out.push({
      area: 'neo4j',
      name: 'Neo4j configured',
      ok: true,
      detail: 'export mode over Bolt (dumps and verify --deep also need NEO4J_HOME or NEO4J_CONTAINER)',
    });
  } else if (!(await runtimeChecks(d, out))) return;
  await boltCheck(d, out);
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
  const c = d.config.neo4j;
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

/**
 * Encrypted copies: an identity that opens none of the recipients means copies this machine
 * could not restore; no identity here is the recommended setup, said once.
 */
async function encryptionChecks(d: Deps, out: DoctorCheck[]): Promise<void> {
  const { ageRecipients: recipients = [], ageIdentity: identities = [] } = d.config.copy;
  if (recipients.length === 0 && identities.length === 0) return;
  const name = 'age encryption of copies';
  if (identities.length === 0) {
    out.push({
      area: 'config',
      name,
      ok: true,
      detail: `copies are encrypted to ${recipients.length} recipient(s); no identity on this machine — restoring needs QNB_AGE_IDENTITY_FILE, keep that key safe elsewhere`,
    });
    return;
  }
  const { identityToRecipient } = await import('age-encryption');
  const mine = await Promise.all(identities.map((i) => identityToRecipient(i)));
  if (recipients.length > 0 && !recipients.some((r) => mine.includes(r))) {
    out.push({
      area: 'config',
      name,
      ok: false,
      detail:
        'no identity in QNB_AGE_IDENTITY matches a recipient in QNB_AGE_RECIPIENTS: copies made here could not be restored with it',
      fix: 'put the public key of your identity (`age-keygen -y KEYFILE`) into QNB_AGE_RECIPIENTS',
    });
    return;
  }
  out.push({
    area: 'config',
    name,
    ok: true,
    detail: recipients.length
      ? `copies are encrypted to ${recipients.length} recipient(s); the identity here opens them`
      : `identity for restoring encrypted copies (${mine.map((r) => `${r.slice(0, 12)}…`).join(', ')})`,
  });
}

/** Runs every check; never throws for a failed check. */
export async function runDoctor(d: Deps, opts: { neo4j: boolean; qdrant: boolean }): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [
    {
      area: 'config',
      name: 'configuration valid',
      ok: true,
      detail: 'flags, environment and config file parsed',
    },
  ];
  await encryptionChecks(d, out);
  await backupsChecks(d, out);
  if (opts.qdrant) await qdrantChecks(d, out);
  if (opts.neo4j) await neo4jChecks(d, out);
  return out;
}
