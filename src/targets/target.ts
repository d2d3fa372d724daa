/**
 * The Target contract: one database qnb backs up (Qdrant, Neo4j). Shaped like Kysely's `Driver`
 * and the storage side's `CopyBackend` (storage/backend.ts): the core (manager, set lifecycle,
 * verify, doctor) drives every database through these members and knows nothing else about it;
 * everything Qdrant- or Neo4j-specific lives behind them in `targets/<db>/`.
 *
 * Every member is async and cancellable: `ctx.signal` (or `signal`) aborts it, and an aborted
 * call rejects with an error that `isAbort()` recognises, after its own cleanup ran. Failures are
 * QnbErrors with a hint saying what to do. Targets are built by `targets/registry.ts`, lazily:
 * building one never contacts its server and never throws for a missing setting (that is
 * `preflight`'s job). Every target runs the one conformance suite in `test/suites/target-suite.ts`.
 *
 * The usual order of calls: `recover` (under the repository lock, before anything else) →
 * `preflight` → `backup` per scope; or `planRestore` → `safetyBackup` → `restore` per artifact
 * for a whole set, or `restore` alone for one artifact; `drill` for `verify --deep`;
 * `doctorChecks` for `qnb doctor`; `close` when done.
 */
import type { LinkConfig } from '../config/schema.js';
import type { Reporter } from '../core/events.js';
import type { ArtifactKind, ArtifactRecord, TargetKind } from '../core/manifest.js';

/** A reserved artifact file: its final relative path and a temporary path beside it. */
export interface ReservedFile {
  /** Final path relative to the backups folder, e.g. `qdrant/docs-backup-20251024-103000.snapshot`. */
  rel: string;
  /** Absolute temporary path in the same folder (TEMP_PREFIX), not yet created. */
  tempPath: string;
}

/** Where targets put what they back up. Implemented by the manager. */
export interface ArtifactSink {
  /** The set it writes into, for messages (e.g. which safety set to restore by hand). */
  readonly setId?: string;
  /** Reserves a new, unused file name. */
  reserve(target: TargetKind, baseName: string, ext: string): Promise<ReservedFile>;
  /**
   * Makes a complete, fsynced, verified temp file a backup: records it as pending in the
   * manifest, renames it to `record.file`, then marks it ok. Only after this is it listed as valid.
   */
  commit(record: ArtifactRecord, tempPath: string): Promise<void>;
  /** Deletes a temp file after a failure. Never throws. */
  discard(tempPath: string): Promise<void>;
}

/** Per-call context every target operation receives. */
export interface TargetContext {
  reporter: Reporter;
  signal?: AbortSignal;
  now: () => Date;
}

/** What a target reports about its server. */
export interface ProbeResult {
  version: string;
  /** Data the CLI and doctor read (restic's Properties). */
  capabilities: { fullSnapshot?: boolean; onlineBackup?: boolean };
}

/** A backup whose server-side part is done (Target.prepareBackup). */
export interface PreparedBackup {
  /** The rest of `backup`: transfer, verify, commit, clean up on the server. */
  run(sink: ArtifactSink): Promise<ArtifactRecord>;
  /** Undoes the server-side part when `run` will not run. Never throws. */
  release(): Promise<void>;
}

/** What to back up (`backup-qdrant -c …`, `--full`); empty = what the configuration says. */
export interface BackupRequest {
  /** Qdrant: collections; default the configured ones, else all. */
  collections?: string[];
  /** Qdrant: one full-storage snapshot instead of one per collection. */
  full?: boolean;
  /** Qdrant: leave the snapshots on the server. */
  keepServerSnapshots?: boolean;
}

/** One unit of a backup (a collection, the full storage, a database): one artifact. */
export interface BackupScope {
  /** Recorded in the set (errors, steps): the collection, `*` for full storage, the database. */
  name: string;
}

/** Which artifact of this target a single restore works on, as the user named it. */
export interface PickRequest {
  /** A backup file (path, or name inside the backups folder or on the copy destination). */
  file?: string;
  /** The newest valid backup (of `name`). */
  latest?: boolean;
  /** The collection/database whose backup to take, or the name of a file outside any manifest. */
  name?: string;
  /** Folder relative paths are resolved against. */
  cwd?: string;
  force?: boolean;
}

/** How to overwrite: the flags of `restore-qdrant`, `restore-neo4j` and `restore`. */
export interface TargetRestoreOptions {
  /** Restore under a new name (Qdrant `--as`). */
  as?: string;
  /** Allow overwriting what holds data (a safety backup is taken first). */
  yes?: boolean;
  /** Go on across incompatible versions. */
  force?: boolean;
  /** Alone: report the plan (`report.plan`), change nothing. */
  dryRun?: boolean;
  /** Part of a set restore: the plan from `planRestore`, whose safety backup already ran. */
  plan?: RestorePlan;
}

/** What `planRestore` found; the target keeps its own state in it for `safetyBackup` and `restore`. */
export interface RestorePlan {
  /** For people: each thing that would be overwritten, with its size now and after. */
  overwrites: string[];
  /**
   * Set by `safetyBackup` when `restore` takes the safety backup itself, into the same sink, right
   * before it overwrites (a Neo4j dump restore: one stop for the safety dump and the load, so
   * nothing written in between is lost). `restore` then throws `SafetyBackupError` if it fails.
   */
  safetyAtRestore?: boolean;
  /** Set by the caller with `safetyAtRestore`: awaited once the safety backup is committed, before anything is overwritten. */
  safetyTaken?: () => Promise<void>;
}

/** What a restore did; the shape is the target's own (`QdrantRestoreReport`, `Neo4jRestoreReport`). */
export type RestoreReport = object;

/** What a single restore did. */
export interface RestoreOutcome {
  report: RestoreReport;
  /** The set holding what was overwritten (restore it to undo). */
  safetySetId?: string;
}

/** What kind of artifact a restore takes (core/selector.ts `pickArtifact`). */
export interface PickSpec {
  target: TargetKind;
  kinds: ArtifactKind[];
  command: string;
  /** `--collection`, for messages; none where the target's name comes from config (Neo4j). */
  nameFlag?: string;
  /** Builds a record for a file outside any manifest (only with --force). */
  untrusted(path: string): Promise<ArtifactRecord>;
}

/** One `qnb doctor` check. */
export interface DoctorCheck {
  area: 'config' | 'backups' | TargetKind;
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do when not ok. */
  fix?: string;
  /** Not an error, but worth knowing. */
  warning?: boolean;
}

/** Result of one drill: `undefined` detail = passed. `skipped` when no drill exists for the kind. */
export interface DrillOutcome {
  detail?: string;
  skipped?: string;
}

/** A link's side in one database (docs/consistency.md). */
export interface LinkSideReader {
  /** The backup scope the side lives in: its keys are read right before that scope's backup. */
  scope: string;
  /** For reports: Qdrant `collection.field`, Neo4j `:Label.property`. */
  where: string;
  /** The distinct keys the live store holds now, as strings. Writes nothing. */
  read(ctx: TargetContext): Promise<string[]>;
}

/**
 * What a drill checks beyond the artifact's own record: the links whose side this artifact holds,
 * with the digest of the keys its set recorded (docs/consistency.md). The scratch copy must hold
 * the same keys.
 */
export interface DrillChecks {
  links: { link: LinkConfig; digest: string }[];
}

/** One database qnb backs up. */
export interface Target {
  /** Which database (the `target` of its manifest entries). */
  readonly kind: TargetKind;
  /** Recorded for a failure not tied to one scope: `qdrant`, or the Neo4j database's name. */
  readonly name: string;
  /** Artifact kinds a set restore, `--from` fetch and drill take (not e.g. Qdrant full-storage snapshots). */
  readonly restoreKinds: readonly ArtifactKind[];
  /** Asks the server its version. Writes nothing. Throws when the server cannot be reached. */
  probe(signal?: AbortSignal): Promise<ProbeResult>;
  /**
   * Everything checkable before a set is started: settings present, server reachable, requested
   * collections exist. Returns the scopes `backup` is called with (may be empty, with a warning).
   * Writes nothing; on failure nothing has been written.
   */
  preflight(req: BackupRequest, ctx: TargetContext): Promise<BackupScope[]>;
  /**
   * Backs up one scope into `sink` and returns the committed record. The artifact becomes valid
   * only through `sink.commit`, after it was fully written, fsynced and verified; on any failure
   * or abort the temp file is discarded (nothing valid is left) and the server is as it was
   * (a Neo4j stopped for a dump is started again).
   */
  backup(scope: BackupScope, sink: ArtifactSink, ctx: TargetContext): Promise<ArtifactRecord>;
  /**
   * Optional: `backup` in two halves, so a set overlaps the next scope's server-side work (e.g.
   * creating a snapshot) with the current scope's transfer. Resolves once the server-side part is
   * done; `run` then does what `backup` does with the rest, `release` undoes the server-side part
   * when `run` will never be called (an interrupted set). Up to `backupsInFlight` scopes of this
   * target are in flight at once (one running, the others prepared or preparing).
   */
  prepareBackup?(scope: BackupScope, ctx: TargetContext): Promise<PreparedBackup>;
  /** Scopes of this target in flight at once with `prepareBackup` (≥ 1; 1 = one after another). */
  readonly backupsInFlight?: number;
  /** How `restore-<kind>` names an artifact: the kinds, flag and record for a `--force`d foreign file. */
  pickSpec(sel: PickRequest): PickSpec;
  /** The name a `--from --latest` fetch looks for when the user named none (Neo4j: the database). */
  defaultName(sel: PickRequest): string | undefined;
  /**
   * A set restore's checks, before anything is touched: versions compatible (unless `force`),
   * what exists and would be overwritten. Throws to refuse; writes nothing.
   */
  planRestore(
    artifacts: ArtifactRecord[],
    opts: { force?: boolean },
    ctx: TargetContext,
  ): Promise<RestorePlan>;
  /**
   * Backs up into `sink` what `plan` says would be overwritten, so the restore can be undone.
   * Throws when it could not; the caller then restores nothing.
   */
  safetyBackup(plan: RestorePlan, sink: ArtifactSink, ctx: TargetContext): Promise<void>;
  /**
   * Optional: a single restore's refusals that read no more of the file than its header (names,
   * versions, overwriting without `yes`). `restore-<kind>` runs them before it re-hashes the
   * file, so a refusal does not wait for a full read; `restore` makes the same checks again.
   */
  restoreRefusals?(artifact: ArtifactRecord, path: string, opts: TargetRestoreOptions): Promise<void>;
  /**
   * Restores one artifact whose file was already checked against its manifest (`path`), then
   * verifies counts and samples. Alone (no `opts.plan`), it makes its own checks, refuses to
   * overwrite without `yes` and takes its own safety set first. Failure before the first write
   * leaves the server untouched; after it, the error says how to get back (the safety backup).
   */
  restore(
    artifact: ArtifactRecord,
    path: string,
    opts: TargetRestoreOptions,
    ctx: TargetContext,
  ): Promise<RestoreOutcome>;
  /**
   * Restores a checked artifact somewhere harmless (scratch collection, scratch Neo4j), compares
   * it with its record and removes the scratch copy whatever happens. Never touches live data.
   */
  drill(
    artifact: ArtifactRecord,
    path: string,
    ctx: TargetContext,
    checks?: DrillChecks,
  ): Promise<DrillOutcome>;
  /**
   * Optional, for `verify`: a cheap check that a file whose size and sha256 matched its manifest
   * is what its kind says (a Neo4j dump starts with the dump format's magic). Reads only; throws
   * an error saying what is wrong.
   */
  checkFile?(artifact: ArtifactRecord, path: string): Promise<void>;
  /** `qnb doctor`'s checks for this database, one line each; never throws for a failed check. */
  doctorChecks(ctx: TargetContext): Promise<DoctorCheck[]>;
  /**
   * Repairs what a crashed qnb left (crash markers): a Neo4j left stopped is started again.
   * Runs under the repository lock before every writing operation. Returns what it did, if anything.
   */
  recover(ctx: TargetContext): Promise<string | undefined>;
  /** This database's side of a link between the stores; undefined when the link has none here. */
  linkSide?(link: LinkConfig): LinkSideReader | undefined;
  /** Releases clients and connections. Idempotent. */
  close(): Promise<void>;
}
