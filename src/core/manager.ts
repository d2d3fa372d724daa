/**
 * The library's entry point: `createBackupManager(config)` returns the operations the CLI and
 * event-driven callers use. Each writing operation runs lock → preflight → work → manifest.
 * Results are typed; nothing here prints.
 */
import type { QnbConfig } from '../config/schema.js';
import type { CopyBackend } from '../storage/backend.js';
import { backupNeo4jDump, type Neo4jBackupOptions } from '../targets/neo4j/neo4j-backup.js';
import { waitForBolt } from '../targets/neo4j/neo4j-bolt.js';
import { backupNeo4jExport } from '../targets/neo4j/neo4j-export.js';
import { clearStoppedMarker, orphanedStoppedMarker } from '../targets/neo4j/neo4j-marker.js';
import type { Neo4jRestoreReport } from '../targets/neo4j/neo4j-restore.js';
import {
  createDockerRuntime,
  createLocalRuntime,
  type Neo4jRuntime,
  type RuntimeSpec,
} from '../targets/neo4j/neo4j-runtime.js';
import { createQdrantApi, type QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { backupQdrantScope } from '../targets/qdrant/qdrant-backup.js';
import { attachNodeConfig } from '../targets/qdrant/qdrant-cluster.js';
import { prepareClusterBackup } from '../targets/qdrant/qdrant-cluster-backup.js';
import type { QdrantRestoreReport } from '../targets/qdrant/qdrant-restore.js';
import type { TargetContext } from '../targets/target.js';
import { type BackupCopyReport, copyAfterBackup, copyFailure } from './backup-copy.js';
import { type CopyOptions, type CopyReport, copySets } from './copy.js';
import { type DoctorCheck, runDoctor } from './doctor.js';
import { ConfigError, isAbort, NotFoundError, toQnbError } from './errors.js';
import { type QnbEvent, type Reporter, reporterFrom, silentReporter } from './events.js';
import type { ArtifactRecord, SetManifest } from './manifest.js';
import { type PruneOptions, type PruneResult, pruneRepository } from './prune.js';
import { type FetchResult, fetchArtifact, fetchChosen, fetchSet } from './remote-fetch.js';
import { pruneRemote } from './remote-prune.js';
import { displayBase, scanRemote } from './remote-scan.js';
import { chooseRemote, verifyRemote } from './remote-verify.js';
import { createRepository, type RepoScan, type Repository } from './repository.js';
import { type RestoreQdrantOptions, restoreQdrant } from './restore.js';
import { type RestoreNeo4jOptions, restoreNeo4j } from './restore-neo4j.js';
import { type RestoreSetOptions, type RestoreSetResult, restoreSet } from './restore-set.js';
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
  /** What retention did after the set (backupAll), or why it did not run. */
  retention?: PruneResult | { skipped: string };
  /** With `copyTo` (backupAll): what the off-site copy did, or why it did not run. */
  copy?: BackupCopyReport | { skipped: string };
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
  /** Re-hashes files; with `deep`, also restores each into a scratch collection / scratch Neo4j and compares. */
  verify(selector?: string, opts?: { deep?: boolean }): Promise<VerifyResult>;
  /** Backs up the Neo4j database: a dump (stops and restarts it on Community) or an online export. */
  backupNeo4j(): Promise<BackupResult>;
  restoreNeo4j(
    opts: RestoreNeo4jOptions,
  ): Promise<{ report: Neo4jRestoreReport; safetySetId?: string; artifact: ArtifactRecord }>;
  /** Every configured Qdrant collection and the Neo4j database in one set. */
  backupAll(opts?: BackupAllOptions): Promise<BackupResult>;
  /** Checks every prerequisite; starts a Neo4j a crashed qnb left stopped. */
  doctor(opts?: { neo4j?: boolean; qdrant?: boolean }): Promise<DoctorCheck[]>;
  /** Restores every store of one backup set to the same point (safety set first). */
  restoreSet(opts: RestoreSetOptions): Promise<RestoreSetResult>;
  /** Retention: deletes what the policy does not keep (never a target's newest valid backup). */
  prune(opts: PruneOptions): Promise<PruneResult>;
  /** Copies the sets a copy target lacks: artifacts first (each verified), each set's manifest last. */
  copy(to: CopyBackend, opts?: CopyOptions): Promise<CopyReport>;
  /** The backups on a copy target, judged like local ones (`list --remote`). */
  listRemote(from: CopyBackend): Promise<RepoScan>;
  /** Retention on a copy target, same planner and guarantees as `prune`. */
  pruneRemote(target: CopyBackend, opts: PruneOptions): Promise<PruneResult>;
  /** Brings a snapshot back from a copy target (verified) into the backups folder, then restores it. */
  restoreQdrantFrom(
    from: CopyBackend,
    opts: RestoreQdrantOptions,
  ): Promise<Awaited<ReturnType<BackupManager['restoreQdrant']>> & { fetch: FetchResult }>;
  /**
   * Reads copies back from a target and re-hashes them; with `deep`, fetches them into the backups
   * folder (verified) and runs the restore drill on them.
   */
  verifyFrom(from: CopyBackend, selector?: string, opts?: { deep?: boolean }): Promise<VerifyResult>;
  /** Brings a whole set back from a copy target (each file verified), then restores it like `restoreSet`. */
  restoreSetFrom(
    from: CopyBackend,
    opts: RestoreSetOptions,
  ): Promise<RestoreSetResult & { fetched: FetchResult[] }>;
  /** Brings a dump back from a copy target (verified) into the backups folder, then restores it. */
  restoreNeo4jFrom(
    from: CopyBackend,
    opts: RestoreNeo4jOptions,
  ): Promise<Awaited<ReturnType<BackupManager['restoreNeo4j']>> & { fetch: FetchResult }>;
  close(): Promise<void>;
}

/** Options of backupAll. */
export interface BackupAllOptions {
  /** Leave Neo4j out (e.g. when only Qdrant runs on this machine). */
  skipNeo4j?: boolean;
  /** Leave Qdrant out. */
  skipQdrant?: boolean;
  /** Run retention after a fully successful set. @default true */
  cleanupOld?: boolean;
  /** Backups kept per target by that retention. @default config.keepLast */
  keepLast?: number;
  /** `pre-command` for the backup `qnb run` takes before a risky command. @default 'backup' */
  reason?: 'backup' | 'pre-command';
  /** Recorded as the set's command. @default 'backup-all' */
  command?: string;
  /**
   * Copy target: after an `ok` set, every set it lacks is copied (under the same lock), and
   * retention runs only when that copy succeeded. The caller opens and closes it.
   */
  copyTo?: CopyBackend;
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
    api ??= attachNodeConfig(createQdrantApi({ url: config.qdrant.url, apiKey: config.qdrant.apiKey }), {
      nodeUrls: config.qdrant.nodes,
      apiKey: config.qdrant.apiKey,
    });
    return api;
  };
  const ctx: TargetContext = { reporter, signal: options.signal, now };
  const closers: (() => Promise<void>)[] = [];
  const neo4jOpts: Neo4jBackupOptions = {
    bolt: {
      uri: config.neo4j.uri,
      user: config.neo4j.user,
      password: config.neo4j.password,
      database: config.neo4j.database,
    },
    backupDir: config.backupDir,
  };

  function runtimeFor(spec?: RuntimeSpec): Neo4jRuntime {
    if (spec)
      return spec.kind === 'docker' ? createDockerRuntime(spec.container) : createLocalRuntime(spec.home);
    if (config.neo4j.container) return createDockerRuntime(config.neo4j.container);
    if (config.neo4j.home) return createLocalRuntime(config.neo4j.home);
    throw new ConfigError(
      'neo4j: neither NEO4J_CONTAINER nor NEO4J_HOME is set',
      'set NEO4J_CONTAINER to the Docker container name, or NEO4J_HOME to the local install',
    );
  }

  const ageIdentity = config.copy.ageIdentity;
  /** Every copy (`copy`, `--copy-to`) is encrypted when recipients are configured. */
  const copyOptions = { recipients: config.copy.ageRecipients };

  /** Guarantee 3 after a crash: a marker left by a dead qnb means Neo4j may still be stopped. */
  async function recoverStoppedNeo4j(): Promise<string | undefined> {
    const marker = await orphanedStoppedMarker(config.backupDir);
    if (!marker) return undefined;
    let message: string | undefined;
    const runtime = marker.wasRunning ? runtimeFor(marker.runtime) : undefined;
    // killed before its `neo4j stop` ran, or someone started Neo4j since: nothing to do
    if (runtime && !(await runtime.isRunning())) {
      message = `Neo4j (${runtime.describe()}) was left stopped by an interrupted qnb run (PID ${marker.pid}); starting it again`;
      reporter.emit({ type: 'warning', target: 'neo4j', message });
      await runtime.start();
      await waitForBolt(neo4jOpts.bolt, 180_000);
    }
    await clearStoppedMarker(config.backupDir);
    return message;
  }

  const locked = <T>(command: string, body: () => Promise<T>) =>
    withRepositoryLock(repository, command, reporter, async () => {
      await recoverStoppedNeo4j();
      return body();
    });

  async function runSet(
    command: string,
    reason: SetManifest['reason'],
    steps: {
      target: 'qdrant' | 'neo4j';
      name: string;
      run: (sink: ReturnType<typeof createSetSink>) => Promise<unknown>;
    }[],
  ): Promise<BackupResult> {
    const started = Date.now();
    const set = await startSet(repository, command, now(), reason);
    const sink = createSetSink(repository, set, now);
    for (const step of steps) {
      try {
        await step.run(sink);
      } catch (err) {
        const e = toQnbError(err, options.signal);
        set.errors.push({
          target: step.target,
          name: step.name,
          code: e.code,
          message: e.hint ? `${e.message} — ${e.hint}` : e.message,
        });
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
  }

  async function qdrantSteps(opts: BackupQdrantOptions) {
    const q = qdrant();
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
    const keep = opts.keepServerSnapshots ?? config.qdrant.keepServerSnapshots;
    // distributed Qdrant: one shard snapshot per shard, planned (or refused) before anything is written
    const cluster = await prepareClusterBackup(q, {
      ...{ full: Boolean(opts.full), scopes, serverVersion: version, keepServerSnapshot: keep, ctx },
    });
    if (cluster) closers.push(cluster.close);
    return scopes.map((scope) => ({
      target: 'qdrant' as const,
      name: scope ?? '*',
      run: (sink: ReturnType<typeof createSetSink>) =>
        cluster && scope !== null
          ? cluster.backup(scope, sink)
          : backupQdrantScope(q, scope, version, sink, ctx, {
              keepServerSnapshot: keep,
              topologyChecked: true,
            }),
    }));
  }

  const exportMode = config.neo4j.mode === 'export';
  const neo4jStep = () => ({
    target: 'neo4j' as const,
    name: config.neo4j.database,
    run: (sink: ReturnType<typeof createSetSink>) =>
      exportMode
        ? backupNeo4jExport(sink, ctx, neo4jOpts)
        : backupNeo4jDump(runtimeFor(), sink, ctx, neo4jOpts),
  });

  const backupQdrant = (opts: BackupQdrantOptions = {}) =>
    locked('backup-qdrant', async () =>
      runSet(opts.full ? 'backup-qdrant --full' : 'backup-qdrant', 'backup', await qdrantSteps(opts)),
    );

  const backupNeo4j = () =>
    locked('backup-neo4j', async () => {
      if (!exportMode) runtimeFor(); // configuration errors before a set is written
      return runSet(exportMode ? 'backup-neo4j --mode export' : 'backup-neo4j', 'backup', [neo4jStep()]);
    });

  const backupAll = (opts: BackupAllOptions = {}) =>
    locked('backup-all', async () => {
      const steps: Parameters<typeof runSet>[2] = [];
      if (!opts.skipQdrant) {
        try {
          steps.push(...(await qdrantSteps({})));
        } catch (err) {
          // Qdrant down must not stop the Neo4j backup: record the failure in the set
          const e = toQnbError(err, options.signal);
          if (isAbort(err, options.signal)) throw e;
          steps.push({ target: 'qdrant', name: 'qdrant', run: async () => Promise.reject(e) });
        }
      }
      if (!opts.skipNeo4j) steps.push(neo4jStep());
      const result: BackupResult = await runSet(opts.command ?? 'backup-all', opts.reason ?? 'backup', steps);
      // guarantee 4: copy and retention only after a set whose every artifact was verified and committed
      if (result.status !== 'ok') {
        const skipped = { skipped: `the backup set is ${result.status}` };
        if (opts.copyTo) result.copy = skipped;
        if (opts.cleanupOld !== false) result.retention = skipped;
        return result;
      }
      if (opts.copyTo) result.copy = await copyAfterBackup(repository, opts.copyTo, ctx, copyOptions);
      if (opts.cleanupOld === false) return result;
      // nothing is pruned locally that never left the machine
      result.retention = copyFailure(result.copy)
        ? { skipped: `the copy to ${opts.copyTo!.name} failed` }
        : await pruneRepository(repository, ctx, { policy: { keepLast: opts.keepLast ?? config.keepLast } });
      return result;
    });

  return {
    config,
    repository,
    backupQdrant,
    backupNeo4j,
    backupAll,
    list: () => repository.scan(),
    doctor: (opts = {}) =>
      runDoctor(
        { config, repository, qdrant, neo4j: () => runtimeFor(), recoverNeo4j: recoverStoppedNeo4j },
        { neo4j: opts.neo4j !== false, qdrant: opts.qdrant !== false },
      ),
    verifyFrom: (from, selector, opts = {}) => {
      if (!opts.deep)
        return verifyRemote(from, displayBase(from), selector, ctx, { identities: ageIdentity });
      return locked('verify --deep --from', async () => {
        const base = displayBase(from);
        const remote = await scanRemote(from, base, options.signal);
        const chosen = chooseRemote(remote.artifacts, selector, base).filter((a) => a.valid);
        if (chosen.length === 0) throw new NotFoundError(`no valid copy to verify on ${base}`);
        for (const a of chosen) await fetchChosen(repository, from, a, ctx, ageIdentity);
        const drill = {
          qdrant,
          neo4j: () => ({ spec: runtimeFor().spec, database: config.neo4j.database }),
          ctx,
        };
        const local = await Promise.all(
          chosen.map((a) => verifyArtifacts(repository, a.artifact.file, ctx, drill)),
        );
        const items = local.flatMap((r) => r.items);
        return { ok: items.every((i) => i.ok), items };
      });
    },
    restoreSetFrom: (from, opts) =>
      locked('restore --from', async () => {
        const got = await fetchSet(repository, from, displayBase(from), opts, ctx, ageIdentity);
        const deps = {
          repository,
          ctx,
          qdrant,
          neo4j: () => runtimeFor(),
          neo4jOpts,
          keepServerSnapshots: config.qdrant.keepServerSnapshots,
        };
        const result = await restoreSet(deps, { ...opts, setId: got.setId, latest: false });
        return { ...result, fetched: got.files };
      }),
    restoreSet: (opts) =>
      locked('restore', () =>
        restoreSet(
          {
            repository,
            ctx,
            qdrant,
            neo4j: () => runtimeFor(),
            neo4jOpts,
            keepServerSnapshots: config.qdrant.keepServerSnapshots,
          },
          opts,
        ),
      ),
    prune: (opts) =>
      locked(opts.dryRun ? 'prune --dry-run' : 'prune', () => pruneRepository(repository, ctx, opts)),
    restoreNeo4j: (opts) =>
      locked('restore-neo4j', () =>
        restoreNeo4j({ repository, runtime: () => runtimeFor(), ctx, opts: neo4jOpts }, opts),
      ),
    restoreQdrant: (opts) =>
      locked('restore-qdrant', () =>
        restoreQdrant(
          { api: qdrant(), repository, ctx, keepServerSnapshots: config.qdrant.keepServerSnapshots },
          opts,
        ),
      ),
    verify: (selector, opts = {}) =>
      locked(opts.deep ? 'verify --deep' : 'verify', () =>
        verifyArtifacts(
          repository,
          selector,
          ctx,
          opts.deep
            ? { qdrant, neo4j: () => ({ spec: runtimeFor().spec, database: config.neo4j.database }), ctx }
            : undefined,
        ),
      ),
    copy: (to, opts = {}) =>
      locked(opts.dryRun ? 'copy --dry-run' : 'copy', () =>
        copySets(repository, to, ctx, { ...copyOptions, ...opts }),
      ),
    listRemote: (from) => scanRemote(from, displayBase(from), options.signal),
    pruneRemote: (target, opts) =>
      locked(opts.dryRun ? 'prune --remote --dry-run' : 'prune --remote', () =>
        pruneRemote(target, displayBase(target), ctx, opts),
      ),
    restoreQdrantFrom: (from, opts) =>
      locked('restore-qdrant --from', async () => {
        const fetch = await fetchArtifact(
          repository,
          from,
          displayBase(from),
          {
            target: 'qdrant',
            kinds: ['qdrant-collection'],
            nameFlag: '--collection',
            command: 'restore-qdrant',
            ...(opts.file ? { file: opts.file } : { latest: opts.latest, name: opts.collection }),
          },
          ctx,
          ageIdentity,
        );
        const deps = {
          api: qdrant(),
          repository,
          ctx,
          keepServerSnapshots: config.qdrant.keepServerSnapshots,
        };
        return { ...(await restoreQdrant(deps, { ...opts, file: fetch.file, latest: false })), fetch };
      }),
    restoreNeo4jFrom: (from, opts) =>
      locked('restore-neo4j --from', async () => {
        const fetch = await fetchArtifact(
          repository,
          from,
          displayBase(from),
          {
            target: 'neo4j',
            kinds: ['neo4j-dump', 'neo4j-export'],
            nameFlag: '--database',
            command: 'restore-neo4j',
            ...(opts.file ? { file: opts.file } : { latest: opts.latest, name: config.neo4j.database }),
          },
          ctx,
          ageIdentity,
        );
        const deps = { repository, runtime: () => runtimeFor(), ctx, opts: neo4jOpts };
        return { ...(await restoreNeo4j(deps, { ...opts, file: fetch.file, latest: false })), fetch };
      }),
    async close() {
      for (const close of closers.splice(0)) await close();
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
