/**
 * qdrant-neo4j-backup — library API. `createBackupManager(config)` gives every command (backup,
 * list, restore, verify, prune, copy and the `--from` variants); `loadConfig()` builds a config
 * the same way the CLI does; `openCopyBackend(parseDestination(…))` opens an off-site copy destination
 * (`parseCopyTarget`/`CopyTarget` are the old names, kept as aliases).
 */

export { EXIT } from './cli/exit-codes.js';
export { type LoadConfigOptions, type LoadedConfig, loadConfig } from './config/load.js';
export type { Neo4jConfig, QdrantConfig, QnbConfig } from './config/schema.js';
export { defaultConfig } from './config/schema.js';
export type { CopyOptions, CopyReport } from './core/copy.js';
export type { DoctorCheck } from './core/doctor.js';
export {
  ConfigError,
  type ErrorCode,
  InternalError,
  InterruptedError,
  LockedError,
  NotFoundError,
  QnbError,
  VerificationError,
} from './core/errors.js';
export type { QnbEvent, Reporter } from './core/events.js';
export {
  type BackupAllOptions,
  type BackupManager,
  type BackupManagerOptions,
  type BackupOptions,
  type BackupResult,
  createBackupManager,
  type VerifyOptions,
} from './core/manager.js';
export type { ArtifactRecord, SetManifest, SetStatus, StoredObject } from './core/manifest.js';
export { computeOffsite, type OffsiteReport } from './core/offsite-status.js';
export type { PruneOptions, PruneResult } from './core/prune.js';
export type { RepoArtifact, RepoScan } from './core/repository.js';
export type { ArtifactRestoreResult, RestoreRequest, RestoreSelector } from './core/restore-artifact.js';
export type { RestoreSetOptions, RestoreSetResult } from './core/restore-set.js';
export { planRetention, type RetentionPlan, type RetentionPolicy } from './core/retention.js';
export { computeStatus, type StatusOptions, type StatusReport, type TargetStatus } from './core/status.js';
export type { VerifyItem, VerifyResult } from './core/verify.js';
export type { CopyBackend } from './storage/backend.js';
export {
  type CopyDestination,
  /** @deprecated the old name of `CopyDestination`. */
  type CopyDestination as CopyTarget,
  openCopyBackend,
  parseDestination,
  /** @deprecated the old name of `parseDestination`. */
  parseDestination as parseCopyTarget,
} from './storage/registry.js';
export { openTargets } from './targets/registry.js';
export type { Target, TargetContext } from './targets/target.js';
