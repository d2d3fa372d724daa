/**
 * Rolling a failed restore back. `neo4j-admin database load --overwrite-destination` deletes the
 * database before it reads the dump, so a load that fails part-way leaves it empty or broken.
 * When that happens and qnb made a safety backup just before, the safety backup is put back
 * while Neo4j is still stopped, Neo4j is started, and what it serves is checked against what the
 * safety backup recorded. The restore still fails (its error says what happened to both), but
 * Neo4j runs with what it held before.
 */
import { joinCleanupError, QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { TargetContext } from '../target.js';
import { type BoltOptions, openBolt } from './neo4j-bolt.js';

/** The safety backup of the database a restore overwrites. */
export interface SafetyBackup {
  /** Set id, for messages (when the sink said it). */
  setId?: string;
  /** Absolute path of its file. */
  path: string;
  /** Its name in the repository (`neo4j/….dump`). */
  file: string;
  /** What it recorded (exact counts). */
  counts: ArtifactRecord['counts'];
}

/** "safety dump" or "safety export", for messages. */
const kindOf = (safety: SafetyBackup) => `safety ${safety.file.endsWith('.dump') ? 'dump' : 'export'}`;

/** How to put the safety backup back by hand. */
const byHand = (safety: SafetyBackup) =>
  `restore it by hand: \`qnb restore-neo4j ${safety.file} --yes\`${safety.setId ? ` (set ${safety.setId})` : ''}`;

/**
 * A restore check that failed after the load over data: the same error, its message naming the
 * safety backup (which holds what the database held before) and the command that puts it back.
 */
export function namingSafety(err: unknown, safety: SafetyBackup | undefined, db: string): unknown {
  if (!safety || !(err instanceof QnbError)) return err;
  return new QnbError(
    err.code,
    `${err.message}; what "${db}" held before is in the ${kindOf(safety)} ${safety.file}${safety.setId ? ` (set ${safety.setId})` : ''}: \`qnb restore-neo4j ${safety.file} --yes\` puts it back`,
    { ...(err.hint ? { hint: err.hint } : {}), cause: err },
  );
}

/** Counts, for messages. */
const described = (c: ArtifactRecord['counts']) =>
  `${c.nodes ?? '?'} nodes, ${c.relationships ?? '?'} relationships`;

/**
 * After `failure` (a load that may have touched the database), loads `safety` back with `load`
 * while Neo4j is stopped. Resolves when it is back (the caller starts Neo4j and then calls
 * `checkRolledBack`); rejects with both errors when the safety load fails too.
 */
export async function loadSafetyBack(
  safety: SafetyBackup,
  db: string,
  ctx: TargetContext,
  failure: unknown,
  load: (path: string, label: string) => Promise<void>,
): Promise<void> {
  ctx.reporter.emit({
    type: 'warning',
    target: 'neo4j',
    name: db,
    message: `restore failed (${(failure as Error).message}); putting the ${kindOf(safety)} ${safety.file} back`,
  });
  try {
    await load(safety.path, `safety dump ${safety.file}`);
  } catch (err) {
    throw joinCleanupError(
      new QnbError(
        'E_SERVER',
        `neo4j "${db}": restore failed and so did putting the ${kindOf(safety)} back`,
        {
          hint: byHand(safety),
          cause: failure,
        },
      ),
      err,
    );
  }
}

/**
 * Neo4j runs again after a rollback: checks it serves what the safety backup recorded, and
 * returns the error the restore ends with, which reports the failure and the rollback.
 */
export async function checkRolledBack(
  bolt: BoltOptions,
  safety: SafetyBackup,
  from: string,
  failure: unknown,
): Promise<QnbError> {
  const db = bolt.database;
  const why = (failure as Error).message;
  let now: { nodes: number; relationships: number } | undefined;
  let readError: unknown;
  try {
    const client = await openBolt(bolt);
    try {
      now = await client.counts();
    } finally {
      await client.close();
    }
  } catch (err) {
    readError = err;
  }
  const same =
    now !== undefined &&
    (safety.counts.nodes === undefined || now.nodes === safety.counts.nodes) &&
    (safety.counts.relationships === undefined || now.relationships === safety.counts.relationships);
  if (same) {
    return new QnbError(
      'E_SERVER',
      `neo4j "${db}": restoring ${from} failed, so qnb rolled back: "${db}" was put back from the ${kindOf(safety)} and Neo4j runs with ${described(safety.counts)}, as before (${why})`,
      {
        hint: 'nothing was restored; check the dump with `qnb verify --deep`, or pick another backup',
        cause: failure,
      },
    );
  }
  return new QnbError(
    'E_SERVER',
    `neo4j "${db}": restoring ${from} failed; the ${kindOf(safety)} was put back, but Neo4j ${
      now
        ? `serves ${described(now)}, not ${described(safety.counts)}`
        : `cannot be read: ${(readError as Error)?.message}`
    } (${why})`,
    {
      hint: byHand(safety),
      cause: failure,
    },
  );
}
