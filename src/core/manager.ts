/**
 * The library's entry point: `createBackupManager(config)` returns the operations the CLI and
 * event-driven callers use. Each writing operation runs lock → preflight → work → manifest.
 * Results are typed; nothing here prints.
 */
import type { QnbConfig } from '../config/schema.js';
import { createQdrantApi, type QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { backupQdrantScope } from '../targets/qdrant/qdrant-backup.js';
import type { QdrantRestoreReport } from '../targets/qdrant/qdrant-restore.js';
import type { TargetContext } from '../targets/target.js';
import { isAbort, NotFoundError, toQnbError } from './errors.js';
import { type QnbEvent, type Reporter, reporterFrom, silentReporter } from './events.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import { createRepository, type RepoScan, type Repository } from './repository.js';
import { type RestoreQdrantOptions, restoreQdrant } from './restore.js';
import { createSetSink, finishSet, startSet, withRepositoryLock } from './run.js';
import { type VerifyResult, verifyArtifacts } from './verify.js';

/** Options of createBackupManager. */
export interface BackupManagerOptions {
  /** Progress events (transfers, steps, warnings). */
  onEvent?: (event: QnbEvent) => void;
  /** Aborts the running operation (SIGINT/SIGTERM); cleanup still runs. */
  signal?: AbortSignal;
  /** Inject a Qdrant API (tests, custom transports). */
  qdrantApi?: QdrantApi;
  /** Clock, for tests. */
  now?: () => Date;
}

/** What backupQdrant did. */
export interface BackupResult {
  setId: string;
  status: SetManifest['status'];
  artifacts: ArtifactRecord[];
  errors: SetManifest['errors'];
  durationMs: number;
}

/** Options of backupQdrant. */
export interface BackupQdrantOptions {
  /** Collections to back up; default: the configured ones, else all. */
  collections?: string[];
  /** Full-storage snapshot instead of per-collection snapshots. */
  full?: boolean;
  /** Keep the snapshots on the server. @default config.qdrant.keepServerSnapshots */
  keepServerSnapshots?: boolean;
}

/** The manager returned by createBackupManager. */
export interface BackupManager {
  readonly config: Readonly<QnbConfig>;
  readonly repository: Repository;
  backupQdrant(opts?: BackupQdrantOptions): Promise<BackupResult>;
  list(): Promise<RepoScan>;
  restoreQdrant(
    opts: RestoreQdrantOptions,
  ): Promise<{ report: QdrantRestoreReport; safetySetId?: string; artifact: ArtifactRecord }>;
  verify(selector?: string): Promise<VerifyResult>;
  close(): Promise<void>;
}

/** Creates a backup manager for one configuration. */
export function createBackupManager(
  config: Readonly<QnbConfig>,
  options: BackupManagerOptions = {},
): BackupManager {
  const reporter: Reporter = options.onEvent ? reporterFrom(options.onEvent) : silentReporter;
  const now = options.now ?? (() => new Date());
  const repository = createRepository(config.backupDir);
  let api: QdrantApi | undefined = options.qdrantApi;
  const qdrant = () => {
    api ??= createQdrantApi({ url: config.qdrant.url, apiKey: config.qdrant.apiKey });
    return api;
  };
  const ctx: TargetContext = { reporter, signal: options.signal, now };

  async function backupQdrant(opts: BackupQdrantOptions = {}): Promise<BackupResult> {
    const started = Date.now();
    const q = qdrant();
    return withRepositoryLock(repository, 'backup-qdrant', reporter, async () => {
      // preflight: nothing is written until the server answers and the collections exist
      const version = await q.version();
      const scopes = opts.full
        ? [null]
        : await resolveCollections(q, opts.collections ?? config.qdrant.collections);
      if (scopes.length === 0)
        reporter.emit({
          type: 'warning',
          target: 'qdrant',
          message: 'Qdrant has no collections; nothing to back up',
        });
      const set = await startSet(repository, opts.full ? 'backup-qdrant --full' : 'backup-qdrant', now());
      const sink = createSetSink(repository, set, now);
      const keep = opts.keepServerSnapshots ?? config.qdrant.keepServerSnapshots;
      for (const scope of scopes) {
        try {
          await backupQdrantScope(q, scope, version, sink, ctx, { keepServerSnapshot: keep });
        } catch (err) {
          const e = toQnbError(err, options.signal);
          set.errors.push({ target: 'qdrant', name: scope ?? '*', code: e.code, message: e.message });
          if (isAbort(err, options.signal)) {
            await finishSet(repository, set, now(), 'interrupted');
            throw e;
          }
        }
      }
      await finishSet(repository, set, now());
      return {
        setId: set.id,
        status: set.status,
        artifacts: set.artifacts,
        errors: set.errors,
        durationMs: Date.now() - started,
      };
    });
  }

  return {
    config,
    repository,
    backupQdrant,
    list: () => repository.scan(),
    restoreQdrant: (opts) =>
      withRepositoryLock(repository, 'restore-qdrant', reporter, () =>
        restoreQdrant(
          { api: qdrant(), repository, ctx, keepServerSnapshots: config.qdrant.keepServerSnapshots },
          opts,
        ),
      ),
    verify: (selector) =>
      withRepositoryLock(repository, 'verify', reporter, () => verifyArtifacts(repository, selector, ctx)),
    async close() {
      if (api && !options.qdrantApi) await api.close();
    },
  };
}

/** The requested collections, checked to exist; all collections when none are requested. */
async function resolveCollections(api: QdrantApi, requested: readonly string[]): Promise<string[]> {
  const existing = await api.listCollections();
  if (requested.length === 0) return [...existing].sort();
  const missing = requested.filter((c) => !existing.includes(c));
  if (missing.length) {
    throw new NotFoundError(
      `qdrant ${api.baseUrl}: collection${missing.length > 1 ? 's' : ''} ${missing.map((m) => `"${m}"`).join(', ')} not found`,
      existing.length ? `existing collections: ${existing.join(', ')}` : 'the server has no collections',
    );
  }
  return [...requested];
}
