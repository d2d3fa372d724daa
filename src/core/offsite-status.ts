/**
 * The 3-2-1 view of `qnb status --remote DEST`: for every backup set, whether it exists in the
 * backups folder, on the copy destination, or both, and whether the off-site copies keep up. A pure
 * function of the local scan and the destination's scan (no lock, no writes).
 *
 * A set is present on a side when it has at least one valid artifact there (the same validity
 * rules as `qnb list` and `qnb list --remote`). Regular sets count (`backup`, and the
 * `pre-command` sets `qnb run` takes); safety sets taken before a restore (`pre-restore`) are left
 * out, as in `qnb status`: they hold the state just before a restore, for the way back, not a
 * backup of the schedule.
 *
 * Off-site problems (each makes `status` exit 6):
 * - `never`: the destination holds no valid backup set at all;
 * - `stale`: the newest valid set on the destination is older than `maxAgeMs`;
 * - `not-copied`: the newest valid local set is not on the destination and is older than `maxAgeMs`
 *   (a fresh set that the next `qnb copy` will send is fine);
 * - `incomplete`: a valid local set is on the destination without some of its files (removed or
 *   resized there, or not valid when it was copied; `qnb copy` sends them again). A file the
 *   destination's own retention pruned is not missing.
 */
import type { ArtifactRecord, SetManifest } from './manifest.js';
import type { RepoScan } from './repository.js';
import { displayTime, formatDuration } from './time.js';

/** Where a set exists. */
export type Placement = 'local' | 'remote' | 'both';

/** Why the off-site copies are unhealthy. */
export type OffsiteProblemCode = 'never' | 'stale' | 'not-copied' | 'incomplete';

/** One off-site problem, with a sentence for people. */
export interface OffsiteProblem {
  code: OffsiteProblemCode;
  message: string;
}

/** One artifact of a set and where it is valid. */
export interface PlacedArtifact {
  target: ArtifactRecord['target'];
  name: string;
  file: string;
  bytes: number;
  /** Valid in the backups folder. */
  local: boolean;
  /** Valid on the copy destination. */
  remote: boolean;
}

/** One backup set and where it exists. */
export interface PlacedSet {
  id: string;
  reason: SetManifest['reason'];
  /** When the run started (sets are ordered by it, newest first). */
  startedAt: string;
  /** Age of the set (from when its run finished) at the time of the report. */
  ageMs: number;
  where: Placement;
  /** Every artifact valid on at least one side. */
  artifacts: PlacedArtifact[];
  /** Files valid locally that the destination lacks (for `both`, and for a set whose manifest is there without any valid copy). */
  missingRemote: string[];
  /** Files valid on the destination that the backups folder lacks (only for `both`; e.g. pruned locally). */
  missingLocal: string[];
}

/** The off-site part of the status report. */
export interface OffsiteReport {
  /** The copy destination as shown to people (`/mnt/usb/qnb`, `s3://bucket/prefix`). */
  target: string;
  healthy: boolean;
  /** Newest first. */
  sets: PlacedSet[];
  /** How many sets are in each place. */
  counts: Record<Placement, number>;
  /** The newest set with a valid artifact in the backups folder, and whether it is on the destination. */
  newestLocal?: { id: string; ageMs: number; where: Placement };
  /** The newest set with a valid artifact on the destination. */
  newestRemote?: { id: string; ageMs: number };
  problems: OffsiteProblem[];
  /** Manifests on the destination that could not be read (`sets/<id>.json: problem`). */
  warnings: string[];
}

/** Options of computeOffsite. */
export interface OffsiteOptions {
  now: Date;
  /** Older copies are stale; an older local set that is not on the destination is overdue. */
  maxAgeMs: number;
  /** The copy destination as shown to people, used in messages. */
  target: string;
}

interface Side {
  set: SetManifest;
  files: Map<string, ArtifactRecord>;
}

/** Valid artifacts of every regular set of one scan, by set id. */
function validBySet(scan: RepoScan): Map<string, Side> {
  const out = new Map<string, Side>();
  for (const a of scan.artifacts) {
    if (!a.valid || a.set.reason === 'pre-restore') continue;
    let side = out.get(a.set.id);
    if (!side) {
      side = { set: a.set, files: new Map() };
      out.set(a.set.id, side);
    }
    side.files.set(a.artifact.file, a.artifact);
  }
  return out;
}

function placeSet(
  local: Side | undefined,
  remote: Side | undefined,
  nowMs: number,
  /** The destination's manifest of this set, also when none of its copies is valid there. */
  remoteManifest?: SetManifest,
): PlacedSet {
  const set = (local ?? remote)!.set;
  const files = new Map<string, ArtifactRecord>([...(remote?.files ?? []), ...(local?.files ?? [])]);
  const artifacts = [...files.values()]
    .map((a) => ({
      target: a.target,
      name: a.name,
      file: a.file,
      bytes: a.bytes,
      local: local?.files.has(a.file) ?? false,
      remote: remote?.files.has(a.file) ?? false,
    }))
    .sort((x, y) => x.file.localeCompare(y.file));
  const both = Boolean(local && remote);
  return {
    id: set.id,
    reason: set.reason,
    startedAt: set.startedAt,
    ageMs: nowMs - Date.parse(set.finishedAt ?? set.startedAt),
    where: both ? 'both' : local ? 'local' : 'remote',
    artifacts,
    // a file the destination's own retention pruned is not missing there; a set whose manifest is
    // there while none of its copies is lacks them all
    missingRemote:
      both || (local && remoteManifest)
        ? artifacts
            .filter((a) => !a.remote && !remoteManifest?.pruned?.some((p) => p.file === a.file))
            .map((a) => a.file)
        : [],
    missingLocal: both ? artifacts.filter((a) => !a.local).map((a) => a.file) : [],
  };
}

/** Sets named one by one in `incomplete` problems; the rest are counted. */
const MAX_LISTED = 5;

const ago = (ms: number, now: number) => `${formatDuration(ms)} ago (${displayTime(new Date(now - ms))})`;

function problemsOf(
  sets: PlacedSet[],
  newestLocal: PlacedSet | undefined,
  newestRemote: PlacedSet | undefined,
  opts: OffsiteOptions,
): OffsiteProblem[] {
  const problems: OffsiteProblem[] = [];
  const now = opts.now.getTime();
  const max = formatDuration(opts.maxAgeMs);
  // a set whose manifest is there without its copies is `incomplete` below, not "not on DEST"
  if (
    newestLocal?.where === 'local' &&
    newestLocal.missingRemote.length === 0 &&
    newestLocal.ageMs > opts.maxAgeMs
  )
    problems.push({
      code: 'not-copied',
      message: `newest local set ${newestLocal.id} (${ago(newestLocal.ageMs, now)}) is not on ${opts.target}, max age ${max} — run \`qnb copy --to ${opts.target}\``,
    });
  const gaps = sets.filter((s) => s.missingRemote.length > 0);
  for (const s of gaps.slice(0, MAX_LISTED))
    problems.push({
      code: 'incomplete',
      message: `${s === newestLocal ? 'newest local set' : 'set'} ${s.id} is on ${opts.target} without ${s.missingRemote.join(', ')} — run \`qnb copy --to ${opts.target}\` (it sends them again)`,
    });
  if (gaps.length > MAX_LISTED)
    problems.push({
      code: 'incomplete',
      message: `and ${gaps.length - MAX_LISTED} more sets on ${opts.target} without some of their files — run \`qnb copy --to ${opts.target}\``,
    });
  if (!newestRemote)
    problems.push({
      code: 'never',
      message: `no backup set on ${opts.target} yet — run \`qnb copy --to ${opts.target}\``,
    });
  else if (newestRemote.ageMs > opts.maxAgeMs)
    problems.push({
      code: 'stale',
      message: `stale — newest set on ${opts.target} is ${newestRemote.id} from ${ago(newestRemote.ageMs, now)}, max age ${max}`,
    });
  return problems;
}

/** Where every backup set is (backups folder, copy destination, both), and the off-site health. */
export function computeOffsite(local: RepoScan, remote: RepoScan, opts: OffsiteOptions): OffsiteReport {
  const nowMs = opts.now.getTime();
  const here = validBySet(local);
  const there = validBySet(remote);
  const manifests = new Map(remote.sets.map((set) => [set.id, set]));
  const ids = new Set([...here.keys(), ...there.keys()]);
  const sets = [...ids]
    .map((id) => placeSet(here.get(id), there.get(id), nowMs, manifests.get(id)))
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.id.localeCompare(a.id));
  const newestLocal = sets.find((s) => s.where !== 'remote');
  const newestRemote = sets.find((s) => s.where !== 'local');
  const problems = problemsOf(sets, newestLocal, newestRemote, opts);
  const counts: Record<Placement, number> = { local: 0, remote: 0, both: 0 };
  for (const s of sets) counts[s.where]++;
  return {
    target: opts.target,
    healthy: problems.length === 0,
    sets,
    counts,
    ...(newestLocal
      ? { newestLocal: { id: newestLocal.id, ageMs: newestLocal.ageMs, where: newestLocal.where } }
      : {}),
    ...(newestRemote ? { newestRemote: { id: newestRemote.id, ageMs: newestRemote.ageMs } } : {}),
    problems,
    warnings: remote.badManifests.map((b) => `${b.file}: ${b.problem}`),
  };
}
