/**
 * `qnb status`: is every target still being backed up? A pure function of one repository scan
 * (no lock, no network), so it is fast and safe to run while a backup is going.
 *
 * Per target (each Qdrant collection, the Neo4j database) it finds the last good backup, its age,
 * size and counts, the size trend over the previous backups, and the outcome of the newest run that
 * touched the target. A target is unhealthy when it has no valid backup, its last good backup is
 * older than `maxAgeMs`, its newest run recorded an error for it, or its size or a count dropped
 * below `dropRatio` × the median of its previous `window` valid backups.
 * Safety backups taken before a restore (`pre-restore`) are not regular backups and are left out.
 */
import { consistencyText } from './consistency.js';
import type { ArtifactCounts, ArtifactRecord, SetManifest, TargetKind } from './manifest.js';
import type { RepoArtifact, RepoScan } from './repository.js';
import { displayTime, formatDuration } from './time.js';

/** Why a target is unhealthy. */
export type StatusProblemCode = 'never' | 'stale' | 'failing' | 'size-drop' | 'count-drop' | 'newest-invalid';

/** One reason a target is unhealthy, with a sentence for people. */
export interface StatusProblem {
  code: StatusProblemCode;
  message: string;
}

/** The newest valid backup of a target. */
export interface LastGoodBackup {
  file: string;
  setId: string;
  createdAt: string;
  ageMs: number;
  bytes: number;
  counts: ArtifactCounts;
  durationMs: number;
  /** `consistency: 0 orphans` when its set recorded links between the stores. */
  consistency?: string;
  /** Qdrant cluster backups: shards in the backup of the collection's shards (coverage). */
  shards?: { inBackup: number; total: number };
}

/** State of one target. */
export interface TargetStatus {
  target: TargetKind;
  /** Collection or database name (`*` for a full-storage snapshot). */
  name: string;
  healthy: boolean;
  problems: StatusProblem[];
  lastGood?: LastGoodBackup;
  /** The newest finished run that touched this target. */
  lastRun?: { setId: string; at: string; ok: boolean; error?: string };
  /** Sizes of the previous backups (oldest first) then the last; median of the previous ones. */
  trend: { bytes: number[]; medianBytes?: number; changePct?: number };
  /** Valid regular backups of this target on disk. */
  validBackups: number;
  /** The newest verification of any of its backups (`qnb verify`, `--deep` = restore drill). */
  lastVerified?: { at: string; deep: boolean; ok: boolean; file: string };
}

/** The whole report. */
export interface StatusReport {
  at: string;
  maxAgeMs: number;
  healthy: boolean;
  targets: TargetStatus[];
  /** Problems that belong to no target (e.g. no backups at all). */
  problems: StatusProblem[];
}

/** Options of computeStatus. */
export interface StatusOptions {
  now: Date;
  /** Older last good backups are stale. */
  maxAgeMs: number;
  /** Targets that must be there even without any backup (configured collections, the Neo4j database). */
  expected?: { target: TargetKind; name: string }[];
  /** A value below ratio × median of the previous backups is a sharp drop. @default 0.5 */
  dropRatio?: number;
  /** How many previous valid backups the median looks at. @default 5 */
  window?: number;
}

const keyOf = (target: string, name: string) => `${target}\u0000${name}`;
const COUNT_NAMES = ['points', 'nodes', 'relationships'] as const;

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const size = (b: number) => (b < 1048576 ? `${Math.round(b)} bytes` : `${(b / 1048576).toFixed(1)} MB`);

function countOf(c: ArtifactCounts, name: (typeof COUNT_NAMES)[number]): number | undefined {
  // a backup taken while its data changed records a range: its upper bound
  if (name === 'points') return c.points ?? c.pointsMax;
  return c[name] ?? c[`${name}Max`];
}

/** Shard coverage of a Qdrant cluster backup (details.cluster, docs/manifest.md). */
function shardCoverage(a: ArtifactRecord): Pick<LastGoodBackup, 'shards'> {
  const c = a.details?.cluster as
    | { shards?: unknown[]; shardNumber?: number; shardingMethod?: string }
    | undefined;
  if (!Array.isArray(c?.shards)) return {};
  const total = c.shardingMethod === 'custom' ? c.shards.length : Number(c.shardNumber ?? c.shards.length);
  return { shards: { inBackup: c.shards.length, total } };
}

const isRegular = (set: SetManifest) => set.reason !== 'pre-restore';

/** Sort order of ISO timestamps, newest first. */
const newestFirst = (a: string, b: string) => (a < b ? 1 : a > b ? -1 : 0);

/** `Qdrant (papers)`, `Neo4j (neo4j)`, `Qdrant (full storage)`. */
export function targetLabel(t: { target: string; name: string }): string {
  return `${t.target === 'qdrant' ? 'Qdrant' : 'Neo4j'} (${t.name === '*' ? 'full storage' : t.name})`;
}

/** The newest finished run that touched each target: ok, or the error it recorded. */
function lastRuns(
  sets: SetManifest[],
  known: Set<string>,
): Map<string, NonNullable<TargetStatus['lastRun']>> {
  const out = new Map<string, NonNullable<TargetStatus['lastRun']>>();
  const ordered = sets
    .filter((s) => isRegular(s) && s.status !== 'running')
    // ISO timestamps sort by code unit; localeCompare (ICU collation) cost 12 ms over 1,000 sets
    .sort((a, b) => newestFirst(a.startedAt, b.startedAt));
  for (const set of ordered) {
    const here = new Map<string, string | undefined>(); // key → error (undefined = ok)
    for (const a of set.artifacts) if (a.status === 'ok') here.set(keyOf(a.target, a.name), undefined);
    for (const e of set.errors) {
      // a whole-target failure (`qdrant` unreachable) counts for every collection of that target
      const keys = e.name === e.target ? [...known].filter((k) => k.startsWith(`${e.target}\u0000`)) : [];
      if (keys.length === 0) keys.push(keyOf(e.target, e.name));
      for (const k of keys) if (here.get(k) === undefined) here.set(k, e.message);
    }
    for (const [k, error] of here) {
      if (out.has(k)) continue;
      const at = set.finishedAt ?? set.startedAt;
      out.set(k, { setId: set.id, at, ok: error === undefined, ...(error !== undefined ? { error } : {}) });
    }
  }
  return out;
}

function dropProblems(last: RepoArtifact, previous: RepoArtifact[], ratio: number): StatusProblem[] {
  const problems: StatusProblem[] = [];
  const med = median(previous.map((p) => p.artifact.bytes));
  if (med !== undefined && med > 0 && last.artifact.bytes < ratio * med) {
    problems.push({
      code: 'size-drop',
      message: `size dropped sharply: ${size(last.artifact.bytes)} vs a median of ${size(med)} over the previous ${previous.length} backup(s)`,
    });
  }
  for (const name of COUNT_NAMES) {
    const now = countOf(last.artifact.counts, name);
    const before = previous.map((p) => countOf(p.artifact.counts, name)).filter((n) => n !== undefined);
    const m = median(before);
    if (now === undefined || m === undefined || m <= 0 || now >= ratio * m) continue;
    problems.push({
      code: 'count-drop',
      message: `${name} dropped sharply: ${now} vs a median of ${Math.round(m)} over the previous ${before.length} backup(s)`,
    });
  }
  return problems;
}

/** Computes the health of every target from one repository scan. */
export function computeStatus(scan: RepoScan, opts: StatusOptions): StatusReport {
  const ratio = opts.dropRatio ?? 0.5;
  const window = opts.window ?? 5;
  const nowMs = opts.now.getTime();
  const valid = new Map<string, RepoArtifact[]>();
  // every committed backup of a target, newest first: one that was written whole and is no longer
  // valid (file gone or changed, a failed verification) is a problem even with an older good one
  const committed = new Map<string, RepoArtifact[]>();
  const names = new Map<string, { target: TargetKind; name: string }>();
  const remember = (target: TargetKind, name: string) => {
    const k = keyOf(target, name);
    if (!names.has(k)) names.set(k, { target, name });
    return k;
  };
  // scan.artifacts is newest first
  for (const a of scan.artifacts) {
    if (!isRegular(a.set)) continue;
    const k = remember(a.artifact.target, a.artifact.name);
    if (a.artifact.status === 'ok') committed.set(k, [...(committed.get(k) ?? []), a]);
    if (!a.valid) continue;
    const list = valid.get(k);
    if (list) list.push(a);
    else valid.set(k, [a]);
  }
  for (const e of opts.expected ?? []) remember(e.target, e.name);
  for (const set of scan.sets.filter(isRegular))
    for (const e of set.errors) if (e.name !== e.target) remember(e.target, e.name);
  const runs = lastRuns(scan.sets, new Set(names.keys()));
  for (const k of runs.keys()) {
    const [target, name] = k.split('\u0000') as [TargetKind, string];
    remember(target, name);
  }

  const targets: TargetStatus[] = [];
  for (const [k, t] of names) {
    const list = valid.get(k) ?? [];
    const last = list[0];
    const previous = list.slice(1, 1 + window);
    const lastRun = runs.get(k);
    const problems: StatusProblem[] = [];
    let lastGood: LastGoodBackup | undefined;
    if (!last) problems.push({ code: 'never', message: 'no valid backup' });
    else {
      const ageMs = nowMs - last.createdAt.getTime();
      lastGood = {
        file: last.artifact.file,
        setId: last.set.id,
        createdAt: last.createdAt.toISOString(),
        ageMs,
        bytes: last.artifact.bytes,
        counts: last.artifact.counts,
        durationMs: last.artifact.durationMs,
        ...shardCoverage(last.artifact),
      };
      const consistency = consistencyText(last.set.links);
      if (consistency) lastGood.consistency = consistency;
      if (ageMs > opts.maxAgeMs)
        problems.push({
          code: 'stale',
          message: `stale — last good backup ${formatDuration(ageMs)} ago (${displayTime(last.createdAt)}), max age ${formatDuration(opts.maxAgeMs)}`,
        });
      problems.push(...dropProblems(last, previous, ratio));
    }
    const newest = committed.get(k)?.[0];
    if (newest && !newest.valid && newest !== last)
      problems.push({
        code: 'newest-invalid',
        message: `newest backup ${newest.artifact.file} is NOT VALID: ${newest.problem ?? 'not valid'}${last ? ` (the last good one is older: ${last.artifact.file})` : ''} — run \`qnb verify\`, then a new backup`,
      });
    if (lastRun && !lastRun.ok)
      problems.push({
        code: 'failing',
        message: `last run failed (set ${lastRun.setId}): ${lastRun.error ?? 'error'}`,
      });
    const med = median(previous.map((p) => p.artifact.bytes));
    const trend: TargetStatus['trend'] = {
      bytes: [...previous].reverse().map((p) => p.artifact.bytes),
    };
    if (last) trend.bytes.push(last.artifact.bytes);
    if (med !== undefined && last) {
      trend.medianBytes = med;
      if (med > 0) trend.changePct = Math.round(((last.artifact.bytes - med) / med) * 1000) / 10;
    }
    const verified = (committed.get(k) ?? [])
      .filter((a) => a.artifact.verification)
      .sort((a, b) => newestFirst(a.artifact.verification!.at, b.artifact.verification!.at))[0];
    targets.push({
      ...(verified
        ? { lastVerified: { ...verified.artifact.verification!, file: verified.artifact.file } }
        : {}),
      target: t.target,
      name: t.name,
      healthy: problems.length === 0,
      problems,
      ...(lastGood ? { lastGood } : {}),
      ...(lastRun ? { lastRun } : {}),
      trend,
      validBackups: list.length,
    });
  }
  targets.sort((a, b) =>
    a.target === b.target ? a.name.localeCompare(b.name) : a.target === 'qdrant' ? -1 : 1,
  );
  const problems: StatusProblem[] =
    targets.length === 0 ? [{ code: 'never', message: 'no backups yet — run `qnb backup-all`' }] : [];
  return {
    at: opts.now.toISOString(),
    maxAgeMs: opts.maxAgeMs,
    healthy: problems.length === 0 && targets.every((t) => t.healthy),
    targets,
    problems,
  };
}
