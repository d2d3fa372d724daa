/**
 * qdrant-neo4j-backup — library API. `createBackupManager(config)` gives backupQdrant, list,
 * restoreQdrant and verify; `loadConfig()` builds a config the same way the CLI does.
 */
export { loadConfig, type LoadConfigOptions, type LoadedConfig } from './config/load.js';
export type { QnbConfig, QdrantConfig, Neo4jConfig } from './config/schema.js';
export { defaultConfig } from './config/schema.js';
export {
  createBackupManager,
  type BackupManager,
  type BackupManagerOptions,
  type BackupQdrantOptions,
  type BackupResult,
} from './core/manager.js';
export type { RestoreQdrantOptions } from './core/restore.js';
export type { VerifyResult, VerifyItem } from './core/verify.js';
export type { QnbEvent, Reporter } from './core/events.js';
export type { ArtifactRecord, SetManifest, SetStatus } from './core/manifest.js';
export type { RepoArtifact, RepoScan } from './core/repository.js';
export {
  QnbError,
  ConfigError,
  NotFoundError,
  LockedError,
  VerificationError,
  InternalError,
  InterruptedError,
  type ErrorCode,
} from './core/errors.js';
export { EXIT } from './cli/exit-codes.js';
