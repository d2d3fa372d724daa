/**
 * `qnb doctor`: checks every prerequisite and says what to do, one line each: the configuration,
 * the backups folder, then each target's own checks (which also repair what a crashed qnb left,
 * e.g. start a Neo4j left stopped: guarantee 3).
 */
import { randomBytes } from 'node:crypto';
import { readFile, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { QnbConfig } from '../config/schema.js';
import type { DoctorCheck, Target, TargetContext } from '../targets/target.js';
import { ensureDir } from './fs-safe.js';
import { isLockHolderAlive, LOCK_FILE, type LockInfo } from './lock.js';
import { placeOf } from './process-place.js';
import type { Repository } from './repository.js';

/** One check. */
export type { DoctorCheck };

interface Deps {
  config: Readonly<QnbConfig>;
  repository: Repository;
  /** The databases to check (each target's own checks, e.g. Qdrant reachable, Neo4j left stopped). */
  targets: readonly Target[];
  ctx: TargetContext;
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
    const where = placeOf(lock);
    const alive = where === 'elsewhere' || (where === 'here' && isLockHolderAlive(lock));
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
export async function runDoctor(d: Deps): Promise<DoctorCheck[]> {
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
  for (const t of d.targets) out.push(...(await t.doctorChecks(d.ctx)));
  return out;
}
