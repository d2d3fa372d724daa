/**
 * The backup-set manifest: one JSON file per qnb run in `sets/<id>.json`. The format is
 * described for humans in docs/manifest.md; bump MANIFEST_VERSION on any incompatible change.
 */

/** Current manifest format version. */
export const MANIFEST_VERSION = 1;

/** Which store an artifact belongs to. */
export type TargetKind = 'qdrant' | 'neo4j';

/** What kind of file an artifact is. */
export type ArtifactKind = 'qdrant-collection' | 'qdrant-full' | 'neo4j-dump' | 'neo4j-export';

/** Set status: `running` only while a live process writes it. */
export type SetStatus = 'running' | 'ok' | 'partial' | 'failed' | 'interrupted';

/** Artifact status: `pending` = renamed into place but the run has not confirmed it yet. */
export type ArtifactStatus = 'pending' | 'ok';

/**
 * Counts recorded at backup time. `pointsMin/Max` differ when the collection changed during the
 * snapshot; `nodesMin/Max` and `relationshipsMin/Max` (instead of `nodes`, `relationships`) when
 * the graph changed around a dump (neo4j-count-range.ts).
 */
export interface ArtifactCounts {
  points?: number;
  pointsMin?: number;
  pointsMax?: number;
  nodes?: number;
  nodesMin?: number;
  nodesMax?: number;
  relationships?: number;
  relationshipsMin?: number;
  relationshipsMax?: number;
}

/** A point (or node) sampled at backup time, to compare after a restore. */
export interface SampleRecord {
  id: string | number;
  /** sha256 of the canonical JSON of the record's vectors and payload. */
  hash: string;
}

/** Result of the last re-hash or restore drill of an artifact. */
export interface VerificationRecord {
  at: string;
  ok: boolean;
  deep: boolean;
  /** How long the restore drill took. */
  durationMs?: number;
  detail?: string;
}

/**
 * How a copy target stores an artifact when the stored object is not the file itself (an
 * encrypted copy). Only in manifests on a copy target; `bytes`/`sha256` of the artifact stay
 * those of the plain file, so a restore checks the decrypted bytes against them.
 */
export interface StoredObject {
  /** Key of the object on the target: the artifact's `file` plus `.age`. */
  key: string;
  bytes: number;
  sha256: string;
  encryption: 'age';
  /** The age recipients (public keys) the copy is encrypted to. */
  recipients: string[];
}

/** One file written by a backup run. */
export interface ArtifactRecord {
  target: TargetKind;
  kind: ArtifactKind;
  /** Collection or database name (`*` for a full-storage snapshot). */
  name: string;
  /** Path relative to the backups folder, with forward slashes. */
  file: string;
  status: ArtifactStatus;
  bytes: number;
  sha256: string;
  /** Checksum the server reported; null when the server reported none. */
  serverChecksum: string | null;
  /** `server`: our sha256 equals the server's checksum; `self`: no server checksum, our hash only. */
  checksumSource: 'server' | 'self';
  serverVersion: string;
  counts: ArtifactCounts;
  sample?: SampleRecord[];
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** Target-specific details (Qdrant: snapshot name, collection config, aliases). */
  details?: Record<string, unknown>;
  verification?: VerificationRecord;
  /** On a copy target only: the stored object when it is not the plain file (encrypted). */
  stored?: StoredObject;
}

/** The keys one side of a link held when read, right before its backup (docs/consistency.md). */
export interface LinkSide {
  /** Qdrant: `collection.field`; Neo4j: `:Label.property`. */
  where: string;
  keys: number;
  /** sha256 of the sorted distinct keys, one per line. */
  digest: string;
  readAt: string;
}

/** Keys on one side without a partner on the other. */
export interface Orphans {
  count: number;
  /** Up to 20, sorted. */
  examples: string[];
}

/** A link's state in a set: both sides' keys and the orphans. */
export interface LinkRecord {
  name: string;
  /** Where the keys live, so a restore can read them again. */
  spec?: { qdrant: { collection: string; field: string }; neo4j: { label: string; property: string } };
  qdrant?: LinkSide;
  neo4j?: LinkSide;
  /** Qdrant keys no Neo4j node holds. */
  pointsWithoutNode?: Orphans;
  /** Neo4j keys no Qdrant point holds. */
  nodesWithoutPoint?: Orphans;
  maxOrphans: number;
  /** Why it was not checked (a side not in the set, a read that failed). */
  skipped?: string;
}

/** A quiesce hook's run (`hooks.beforeSet` / `hooks.afterSet`). */
export interface HookRecord {
  hook: 'beforeSet' | 'afterSet';
  ok: boolean;
  durationMs: number;
  exitCode?: number | null;
  /** Why it failed: exit status, timeout, last line of stderr. */
  detail?: string;
}

/** One backup run. */
export interface SetManifest {
  format: 'qnb-set';
  version: number;
  id: string;
  command: string;
  /** Why the set exists: a normal run, or a safety backup before a restore. */
  reason: 'backup' | 'pre-restore' | 'pre-command';
  status: SetStatus;
  host: string;
  pid: number;
  qnbVersion: string;
  startedAt: string;
  finishedAt?: string;
  artifacts: ArtifactRecord[];
  errors: { target: TargetKind; name: string; code: string; message: string }[];
  /** Links between the stores, read right before each backup (backup-all with `links`). */
  links?: LinkRecord[];
  /** Quiesce hooks that ran around the set. */
  hooks?: HookRecord[];
  /** Artifacts removed by retention (their entries leave `artifacts` before the file is deleted). */
  pruned?: { file: string; at: string }[];
}

// Hand-written checks instead of a schema library: `qnb list` and `qnb status` parse every
// manifest, and loading zod alone took longer than reading 1,000 manifests.
const SHA256 = /^[0-9a-f]{64}$/;
const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string';
const isNonEmpty = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isSha256 = (v: unknown): v is string => typeof v === 'string' && SHA256.test(v);
const oneOf =
  <T extends string>(...values: T[]) =>
  (v: unknown): v is T =>
    values.includes(v as T);
const isTarget = oneOf('qdrant', 'neo4j');
const isKind = oneOf('qdrant-collection', 'qdrant-full', 'neo4j-dump', 'neo4j-export');
const isArtifactStatus = oneOf('pending', 'ok');
const isChecksumSource = oneOf('server', 'self');
const isSetStatus = oneOf('running', 'ok', 'partial', 'failed', 'interrupted');

/**
 * A path that stays where it is resolved (the backups folder, a destination folder or prefix):
 * relative, `/`-separated, no empty, `.` or `..` segment, no backslash or NUL. A manifest is data
 * that may come from a copy destination others can write: an entry naming `../x` would have qnb
 * write, or delete, outside the folder.
 */
const isInsidePath = (v: unknown): v is string =>
  isNonEmpty(v) &&
  !/[\\\0]/.test(v) &&
  v.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');

const isStored = (v: unknown): boolean =>
  isObject(v) &&
  isInsidePath(v.key) &&
  isCount(v.bytes) &&
  isSha256(v.sha256) &&
  v.encryption === 'age' &&
  Array.isArray(v.recipients) &&
  v.recipients.every(isString);

/** True when an artifact entry has every field a manifest must record, with the right types. */
function isArtifactRecord(a: unknown): a is ArtifactRecord {
  return (
    isObject(a) &&
    isTarget(a.target) &&
    isKind(a.kind) &&
    isNonEmpty(a.name) &&
    // in its target's folder: `qdrant/…`, `neo4j/…` (repository.ts TARGET_DIRS)
    isInsidePath(a.file) &&
    a.file.startsWith(`${a.target}/`) &&
    isArtifactStatus(a.status) &&
    isCount(a.bytes) &&
    isSha256(a.sha256) &&
    (a.serverChecksum === null || isString(a.serverChecksum)) &&
    isChecksumSource(a.checksumSource) &&
    isString(a.serverVersion) &&
    isObject(a.counts) &&
    Object.values(a.counts).every(isNumber) &&
    isString(a.startedAt) &&
    isString(a.finishedAt) &&
    isNumber(a.durationMs) &&
    (a.stored === undefined || isStored(a.stored))
  );
}

/**
 * A set id is one file name (`sets/<id>.json`): letters, digits, `.`, `_`, `-`, starting with a
 * letter or digit — never a path, so a manifest from a copy destination cannot name a file
 * outside the backups folder.
 */
const SET_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** True when `d` has the head of a set manifest (any version). */
function isSetHead(d: unknown): d is SetManifest {
  return (
    isObject(d) &&
    d.format === 'qnb-set' &&
    Number.isSafeInteger(d.version) &&
    (d.version as number) > 0 &&
    isString(d.id) &&
    SET_ID.test(d.id) &&
    isSetStatus(d.status) &&
    isString(d.startedAt) &&
    Array.isArray(d.artifacts)
  );
}

/**
 * Parses a manifest file's JSON. Returns an error string for files that are not manifests or
 * come from a newer qnb. Artifacts that fail validation are dropped (and so never valid).
 */
export function parseManifest(json: string): SetManifest | string {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    return 'not valid JSON';
  }
  if (!isSetHead(data)) return 'not a qnb set manifest';
  if (data.version > MANIFEST_VERSION) return `manifest version ${data.version} is newer than this qnb`;
  const set: Kept = data;
  const kept = set.artifacts.filter((a) => !isArtifactRecord(a));
  set.artifacts = set.artifacts.filter(isArtifactRecord);
  if (kept.length) set[KEPT] = kept;
  set.errors ??= [];
  return set;
}

/**
 * A manifest's entries this qnb does not understand (a newer qnb's kind under the same manifest
 * version, or an entry it cannot read): never listed or acted on, but written back by
 * `manifestText`, so a prune, verify or copy by this qnb does not erase a newer qnb's catalog.
 * A symbol key: object spread carries it, JSON.stringify does not see it.
 */
const KEPT = Symbol('qnb.keptArtifacts');
type Kept = SetManifest & { [KEPT]?: unknown[] };

/** The manifest file's text: `set` with the entries this qnb did not understand, as read. */
export function manifestText(set: SetManifest): string {
  const kept = (set as Kept)[KEPT] ?? [];
  const whole = kept.length ? { ...set, artifacts: [...set.artifacts, ...kept] } : set;
  return `${JSON.stringify(whole, null, 2)}\n`;
}

/** `set` without the entries it was read with but did not understand (a new set made from it elsewhere). */
export function withoutKept(set: SetManifest): SetManifest {
  const copy: Kept = { ...set };
  delete copy[KEPT];
  return copy;
}

/** True when an artifact's manifest entry is complete: the run confirmed it and hashes are recorded. */
export function isCompleteArtifact(a: ArtifactRecord): boolean {
  return a.status === 'ok' && SHA256.test(a.sha256) && a.bytes >= 0;
}

/** Key, size and sha256 of the object that holds an artifact on a copy target. */
export function storedObject(a: ArtifactRecord): { key: string; bytes: number; sha256: string } {
  return a.stored ?? { key: a.file, bytes: a.bytes, sha256: a.sha256 };
}

/** A new manifest for a run that is starting. */
export function newSetManifest(init: {
  id: string;
  command: string;
  reason?: SetManifest['reason'];
  host: string;
  pid: number;
  qnbVersion: string;
  now: Date;
}): SetManifest {
  return {
    format: 'qnb-set',
    version: MANIFEST_VERSION,
    id: init.id,
    command: init.command,
    reason: init.reason ?? 'backup',
    status: 'running',
    host: init.host,
    pid: init.pid,
    qnbVersion: init.qnbVersion,
    startedAt: init.now.toISOString(),
    artifacts: [],
    errors: [],
  };
}
