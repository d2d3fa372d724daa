/**
 * What a target (a database qnb backs up) gets from the core while backing up: a sink that
 * names files, writes the manifest entry and moves finished files into place.
 */
import type { Reporter } from '../core/events.js';
import type { ArtifactRecord, TargetKind } from '../core/manifest.js';

/** A reserved artifact file: its final relative path and a temporary path beside it. */
export interface ReservedFile {
  /** Final path relative to the backups folder, e.g. `qdrant/docs-backup-20251024-103000.snapshot`. */
  rel: string;
  /** Absolute temporary path in the same folder (TEMP_PREFIX), not yet created. */
  tempPath: string;
}

/** Where targets put what they back up. Implemented by the manager. */
export interface ArtifactSink {
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
