/**
 * Retention: which backups `qnb prune` (and `backup-all`'s cleanup) keeps and which it removes.
 *
 * A pure planner in the shape of restic's `ApplyPolicy`: `(entries, policy, now) → plan`. It does no
 * I/O and never reads the clock; the caller scans the repository, builds the entries, and deletes
 * what the plan says. Golden-file tests live in `test/fixtures/retention/`.
 *
 * Rules, applied to every retention group independently:
 * - Only valid entries that are not in the future count towards the policy.
 * - `keepLast` N keeps the N newest counted entries.
 * - `keepDaily` / `keepWeekly` / `keepMonthly` D keep the newest counted entry of each of the D most
 *   recent calendar days / ISO weeks (Monday start) / calendar months that have a counted entry;
 *   periods without a backup do not use up the count. Periods are computed in `opts.timeZone`.
 * - Whatever the policy says, these are kept: the group's newest counted entry, entries with a
 *   `protected` reason, entries dated after `now` (clock skew), and invalid entries (removing broken
 *   files is not retention's job).
 * - A policy whose counts are all zero or unset keeps everything: retention never deletes merely
 *   because nothing was configured.
 */
import { ConfigError, InternalError } from './errors.js';

/** How many backups to keep per group. Unset or 0 = the rule keeps nothing by itself. */
export interface RetentionPolicy {
  /** Keep the N newest backups. */
  keepLast?: number;
  /** Keep the newest backup of each of the N most recent days that have one. */
  keepDaily?: number;
  /** Keep the newest backup of each of the N most recent ISO weeks (Monday start) that have one. */
  keepWeekly?: number;
  /** Keep the newest backup of each of the N most recent calendar months that have one. */
  keepMonthly?: number;
}

/** One backup file as retention sees it. */
export interface RetentionEntry {
  /** Unique id (the artifact file path). */
  id: string;
  /** Retention group, see {@link retentionGroup}, e.g. `qdrant:qdrant-collection:docs`. */
  group: string;
  /** When the backup was taken. */
  createdAt: Date;
  /** Complete manifest entry and the file is as recorded. Invalid entries are never removed. */
  valid: boolean;
  /**
   * Why the entry must be kept whatever the policy says, e.g. `pre-command backup (qnb run)`; becomes
   * the decision's reason (an empty string still protects, with reason `protected`). Still counts
   * towards the policy when valid.
   */
  protected?: string;
}

/** What the planner decided for one entry, and why. */
export interface RetentionDecision {
  id: string;
  group: string;
  action: 'keep' | 'remove';
  /** Every reason an entry is kept (`last 1/5`, `daily 2026-11-25`, `newest valid backup`, …); empty for removals. */
  reasons: string[];
}

/** The result of {@link planRetention}. */
export interface RetentionPlan {
  /** One decision per entry, sorted by group, then newest first (ties: by id). */
  decisions: RetentionDecision[];
  /** Ids to keep, in decision order. */
  keep: string[];
  /** Ids to remove, in decision order. */
  remove: string[];
}

/** Options of {@link planRetention}. */
export interface RetentionOptions {
  /** IANA time zone in which days, weeks and months are counted. Default: the process's local zone. */
  timeZone?: string;
}

/** Reason given to every valid entry when the policy is empty. */
export const REASON_NO_POLICY = 'no policy';
/** Reason given to the newest valid (not future) entry of each group. */
export const REASON_NEWEST = 'newest valid backup';
/** Reason given to entries dated after `now`. */
export const REASON_FUTURE = 'in the future';
/** Reason given to invalid entries. */
export const REASON_INVALID = 'not valid — not touched by retention';
/** Reason given to entries whose date is not a valid Date. */
export const REASON_NO_DATE = 'unknown date — not touched by retention';

/**
 * The retention group of an artifact: `${target}:${kind}:${name}`, e.g.
 * `qdrant:qdrant-collection:docs` or `neo4j:neo4j-dump:neo4j`. Accepts an `ArtifactRecord`.
 */
export function retentionGroup(a: { target: string; kind: string; name: string }): string {
  return `${a.target}:${a.kind}:${a.name}`;
}

const POLICY_KEYS = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;

function checkPolicy(p: RetentionPolicy): void {
  for (const key of POLICY_KEYS) {
    const v = p[key];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0)
      throw new ConfigError(
        `retention ${key} must be a whole number ≥ 0, got ${String(v)}`,
        'use 0 or leave it unset to turn that rule off',
      );
  }
}

function isEmptyPolicy(p: RetentionPolicy): boolean {
  return POLICY_KEYS.every((k) => !p[k]);
}

/**
 * The policy in words: `keep last 5, 4 daily, 3 weekly, 2 monthly`; rules at 0 or unset are left
 * out, and an empty policy reads `no policy (keep everything)`.
 */
export function describePolicy(p: RetentionPolicy): string {
  const parts: string[] = [];
  if (p.keepLast) parts.push(`last ${p.keepLast}`);
  if (p.keepDaily) parts.push(`${p.keepDaily} daily`);
  if (p.keepWeekly) parts.push(`${p.keepWeekly} weekly`);
  if (p.keepMonthly) parts.push(`${p.keepMonthly} monthly`);
  return parts.length ? `keep ${parts.join(', ')}` : `${REASON_NO_POLICY} (keep everything)`;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** Calendar periods of one instant in one time zone. */
interface Periods {
  day: string;
  week: string;
  month: string;
}

/** Builds a function from an instant to its day / ISO week / month in `timeZone`. */
function periodsIn(timeZone: string | undefined): (d: Date) => Periods {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    calendar: 'gregory',
    numberingSystem: 'latn',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  });
  return (d) => {
    let y = 0;
    let m = 0;
    let day = 0;
    for (const part of fmt.formatToParts(d)) {
      if (part.type === 'year') y = Number(part.value);
      else if (part.type === 'month') m = Number(part.value);
      else if (part.type === 'day') day = Number(part.value);
    }
    // ISO 8601 week: the week (Monday start) belongs to the year that holds its Thursday.
    const date = Date.UTC(y, m - 1, day);
    const dow = (new Date(date).getUTCDay() + 6) % 7; // Monday = 0
    const thursday = new Date(date + (3 - dow) * 86_400_000);
    const isoYear = thursday.getUTCFullYear();
    const week = Math.floor((thursday.getTime() - Date.UTC(isoYear, 0, 1)) / (7 * 86_400_000)) + 1;
    return {
      day: `${pad(y, 4)}-${pad(m)}-${pad(day)}`,
      week: `${pad(isoYear, 4)}-W${pad(week)}`,
      month: `${pad(y, 4)}-${pad(m)}`,
    };
  };
}

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Sort order of decisions: group, then newest first, then id (dates that are not valid last). */
function compareEntries(a: RetentionEntry, b: RetentionEntry): number {
  const g = compareStrings(a.group, b.group);
  if (g !== 0) return g;
  const ta = a.createdAt.getTime();
  const tb = b.createdAt.getTime();
  const na = Number.isNaN(ta);
  const nb = Number.isNaN(tb);
  if (na !== nb) return na ? 1 : -1;
  if (!na && ta !== tb) return tb - ta;
  return compareStrings(a.id, b.id);
}

/**
 * Plans retention: decides for every entry whether to keep or remove it, with reasons, following
 * restic's `ApplyPolicy` per group (see the module comment for the rules). Pure and deterministic:
 * no I/O, no clock, same input → same output. Throws `ConfigError` for counts that are not whole
 * numbers ≥ 0, `InternalError` for duplicate ids, and `RangeError` for an unknown time zone.
 *
 * @param entries every backup file of the repository (all groups)
 * @param policy the counts to keep per group
 * @param now the current time; entries after it are kept as `in the future`
 * @param opts `timeZone`: IANA zone for days, weeks and months (default: the process's local zone)
 */
export function planRetention(
  entries: readonly RetentionEntry[],
  policy: RetentionPolicy,
  now: Date,
  opts: RetentionOptions = {},
): RetentionPlan {
  checkPolicy(policy);
  const seen = new Set<string>();
  for (const e of entries) {
    if (seen.has(e.id)) throw new InternalError(`retention: duplicate entry id ${e.id}`);
    seen.add(e.id);
  }
  const nowMs = now.getTime();
  if (Number.isNaN(nowMs)) throw new InternalError('retention: `now` is not a valid date');
  const periods = periodsIn(opts.timeZone);
  const empty = isEmptyPolicy(policy);
  const sorted = [...entries].sort(compareEntries);

  const reasons = new Map<string, string[]>();
  for (const e of sorted) reasons.set(e.id, []);
  const add = (e: RetentionEntry, r: string) => reasons.get(e.id)!.push(r);

  // Entries that count towards the policy, grouped, newest first (sorted is already in that order).
  const counted = new Map<string, RetentionEntry[]>();
  for (const e of sorted) {
    const t = e.createdAt.getTime();
    if (!e.valid || Number.isNaN(t) || t > nowMs) continue;
    const list = counted.get(e.group);
    if (list) list.push(e);
    else counted.set(e.group, [e]);
  }

  // Policy reasons (restic's buckets: each rule walks the group newest first on its own).
  for (const list of counted.values()) {
    if (empty) {
      for (const e of list) add(e, REASON_NO_POLICY);
      continue;
    }
    const last = policy.keepLast ?? 0;
    for (let i = 0; i < Math.min(last, list.length); i++) add(list[i]!, `last ${i + 1}/${last}`);
    const buckets: [number, keyof Periods, string][] = [
      [policy.keepDaily ?? 0, 'day', 'daily'],
      [policy.keepWeekly ?? 0, 'week', 'weekly'],
      [policy.keepMonthly ?? 0, 'month', 'monthly'],
    ];
    const keys = list.map((e) => periods(e.createdAt));
    for (const [count, period, label] of buckets) {
      let left = count;
      let previous: string | undefined;
      for (let i = 0; i < list.length && left > 0; i++) {
        const key = keys[i]![period];
        if (key === previous) continue;
        previous = key;
        left--;
        add(list[i]!, `${label} ${key}`);
      }
    }
  }

  // Guards: kept whatever the policy says.
  for (const list of counted.values()) add(list[0]!, REASON_NEWEST);
  for (const e of sorted) {
    const t = e.createdAt.getTime();
    if (Number.isNaN(t)) add(e, REASON_NO_DATE);
    else if (!e.valid) add(e, REASON_INVALID);
    if (t > nowMs) add(e, REASON_FUTURE);
    if (e.protected !== undefined) add(e, e.protected || 'protected');
  }

  const decisions: RetentionDecision[] = sorted.map((e) => {
    const r = reasons.get(e.id)!;
    return { id: e.id, group: e.group, action: r.length ? 'keep' : 'remove', reasons: r };
  });
  return {
    decisions,
    keep: decisions.filter((d) => d.action === 'keep').map((d) => d.id),
    remove: decisions.filter((d) => d.action === 'remove').map((d) => d.id),
  };
}
