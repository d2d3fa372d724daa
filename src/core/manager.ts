/**
 * The library's entry point: `createBackupManager(config)` returns the operations the CLI and
 * event-driven callers use. Each writing operation runs lock → recover → preflight → work →
 * manifest, looping over the configured targets (targets/registry.ts); nothing here knows a
 * database. Results are typed; nothing here prints.
 */
import type { QnbConfig } from '../config/schema.js';
import type { CopyBackend } from '../storage/backend.js';
import { type OpenTargetsOptions, openTargets } from '../targets/registry.js';
import type { BackupRequest, Target, TargetContext } from '../targets/target.js';
import { copyAfterBackup, copyFailure } from './backup-copy.js';
import { type BackupResult, type BackupStep, backupSteps, runBackupSet } from './backup-run.js';
import { type CopyOptions, type CopyReport, copySets } from './copy.js';
import { type DoctorCheck, runDoctor } from './doctor.js';
import { ConfigError, isAbort, toQnbError } from './errors.js';
import { type QnbEvent, type Reporter, reporterFrom, silentReporter } from './events.js';
import type { TargetKind } from './manifest.js';
import { type PruneOptions, type PruneResult, pruneRepository } from './prune.js';
import { pruneRemote } from './remote-prune.js';
import { displayBase, scanRemote } from './remote-scan.js';
import { verifyRemote } from './remote-verify.js';
import { verifyRemoteDeep } from './remote-verify-deep.js';
import { createRepository, type RepoScan, type Repository } from './repository.js';
import { type ArtifactRestoreResult, type RestoreRequest, restoreArtifact } from './restore-artifact.js';
import { type RestoreSetResult, restoreSet } from './restore-set.js';
import { createSetGuards } from './set-guards.js';
import { withRepositoryLock } from './set-lifecycle.js';
import { type VerifyResult, verifyArtifacts } from './verify.js';

export type { BackupResult };

/** Options of createBackupManager. */
export interface BackupManagerOptions {
  /** Progress events (transfers, steps, warnings). */
  onEvent?: (event: QnbEvent) => void;
  /** Aborts the running operation (SIGINT/SIGTERM); cleanup still runs. */
  signal?: AbortSignal;
  /** Inject a Qdrant API (tests, custom transports). */
  qdrantApi?: OpenTargetsOptions['qdrantApi'];
  /** Use these targets instead of the ones the configuration names (tests, other databases). */
  targets?: Target[];
  /** Clock, for tests. */
  now?: () => Date;
}

/** Options of `backup` (one target): what to back up, and the command the set records. */
export interface BackupOptions extends BackupRequest {
  /** Recorded as the set's command. @default `backup-<kind>` */
  command?: string;
}

/** Options of `verify`. */
export interface VerifyOptions {
  /** Also restore each artifact somewhere harmless (scratch collection / scratch Neo4j) and compare. */
  deep?: boolean;
  /** Verify the copies on this copy destination instead (read back and re-hashed). */
  from?: CopyBackend;
}

/** The manager returned by createBackupManager. */
export interface BackupManager {
  readonly config: Readonly<QnbConfig>;
  readonly repository: Repository;
  /** The databases this manager backs up, in set order. */
  readonly targets: readonly Target[];
  /** Backs up one target as a set (`backup-qdrant`, `backup-neo4j`); a failed preflight writes nothing. */
  backup(kind: TargetKind, opts?: BackupOptions): Promise<BackupResult>;
  /** Every target in one set (one target's failure does not stop the others). */
  backupAll(opts?: BackupAllOptions): Promise<BackupResult>;
  list(): Promise<RepoScan>;
  /** The backups on a copy destination, judged like local ones (`list --remote`). */
  listRemote(from: CopyBackend): Promise<RepoScan>;
  /** One artifact of `kind` (safety backup first when overwriting); with `from`, fetched first. */
  restore(req: RestoreRequest & { kind: TargetKind }): Promise<ArtifactRestoreResult>;
  /** Every store of one backup set to the same point (safety set first); with `from`, fetched first. */
  restore(req: RestoreRequest): Promise<RestoreSetResult>;
  /** Re-hashes files (here, or on `from`); with `deep`, also restores each somewhere harmless and compares. */
  verify(selector?: string, opts?: VerifyOptions): Promise<VerifyResult>;
  /** Checks every prerequisite; repairs what a crashed qnb left (a Neo4j left stopped). */
  doctor(opts?: { skip?: TargetKind[] }): Promise<DoctorCheck[]>;
  /**
   * Under the lock, only what every writing operation does first: removes an interrupted run's
   * leftovers and starts a Neo4j a crashed qnb left stopped (`schedule` at start-up: a restarted
   * sidecar). LockedError when another run holds the lock (nothing to repair then).
   */
  recover(): Promise<void>;
  /** Retention: deletes what the policy does not keep (never a target's newest valid backup). */
  prune(opts: PruneOptions): Promise<PruneResult>;
  /** Retention on a copy destination, same planner and guarantees as `prune`. */
  pruneRemote(destination: CopyBackend, opts: PruneOptions): Promise<PruneResult>;
  /** Copies the sets a copy destination lacks: artifacts first (each verified), each set's manifest last. */
  copy(to: CopyBackend, opts?: CopyOptions): Promise<CopyReport>;
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
   * Copy destination: after an `ok` set, every set it lacks is copied (under the same lock), and
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
  const targets =
    options.targets ??
    openTargets(config, repository, options.qdrantApi ? { qdrantApi: options.qdrantApi } : {});
  const ctx: TargetContext = { reporter, signal: options.signal, now };
  const identities = config.copy.ageIdentity;
  /** Every copy (`copy`, `--copy-to`) is encrypted when recipients are configured. */
  const copyOptions = { recipients: config.copy.ageRecipients };
  const targetOf = (kind: TargetKind) => {
    const t = targets.find((x) => x.kind === kind);
    if (!t)
      throw new ConfigError(
        `${kind}: no such target`,
        `configured: ${targets.map((x) => x.kind).join(', ')}`,
      );
    return t;
  };

  const locked = <T>(command: string, body: () => Promise<T>, opts: { spaceReserve?: boolean } = {}) =>
    withRepositoryLock(
      repository,
      command,
      reporter,
      async () => {
        for (const t of targets) await t.recover(ctx);
        return body();
      },
      opts,
    );

  /** Quiesce hooks around every set; links only where every store is backed up (backup-all). */
  const guards = (linked: boolean) =>
    createSetGuards({ hooks: config.hooks, links: linked ? config.links : [] }, targets, ctx);

  const backup = (kind: TargetKind, opts: BackupOptions = {}) => {
    const command = opts.command ?? `backup-${kind}${opts.full ? ' --full' : ''}`;
    return locked(command, async () =>
      runBackupSet(
        repository,
        ctx,
        command,
        'backup',
        await backupSteps(targetOf(kind), opts, ctx),
        guards(false),
      ),
    );
  };

  const backupAll = (opts: BackupAllOptions = {}) =>
    locked('backup-all', async () => {
      const skip = new Set<TargetKind>([
        ...(opts.skipQdrant ? (['qdrant'] as const) : []),
        ...(opts.skipNeo4j ? (['neo4j'] as const) : []),
      ]);
      const steps: BackupStep[] = [];
      for (const t of targets.filter((x) => !skip.has(x.kind))) {
        try {
          steps.push(...(await backupSteps(t, {}, ctx)));
        } catch (err) {
          // one target down must not stop the others: record the failure in the set
          const e = toQnbError(err, options.signal);
          if (isAbort(err, options.signal)) throw e;
          steps.push({ target: t.kind, name: t.name, run: async () => Promise.reject(e) });
        }
      }
      const command = opts.command ?? 'backup-all';
      const result = await runBackupSet(
        repository,
        ctx,
        command,
        opts.reason ?? 'backup',
        steps,
        guards(skip.size === 0),
      );
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

  function restore(req: RestoreRequest & { kind: TargetKind }): Promise<ArtifactRestoreResult>;
  function restore(req: RestoreRequest): Promise<RestoreSetResult>;
  function restore(req: RestoreRequest): Promise<ArtifactRestoreResult | RestoreSetResult> {
    const command = `${req.kind ? `restore-${req.kind}` : 'restore'}${req.from ? ' --from' : ''}`;
    const deps = { repository, ctx, identities, targets };
    return locked<ArtifactRestoreResult | RestoreSetResult>(command, () =>
      req.kind
        ? restoreArtifact(deps, targetOf(req.kind), req)
        : restoreSet(deps, { ...req.selector, yes: req.yes, force: req.force }, req.from),
    );
  }

  function verify(selector?: string, opts: VerifyOptions = {}): Promise<VerifyResult> {
    const { from, deep } = opts;
    if (!from)
      return locked(deep ? 'verify --deep' : 'verify', () =>
        verifyArtifacts(repository, selector, ctx, targets, deep),
      );
    if (!deep) return verifyRemote(from, displayBase(from), selector, ctx, { identities });
    return locked('verify --deep --from', () =>
      verifyRemoteDeep(repository, from, selector, ctx, targets, identities),
    );
  }

  return {
    config,
    repository,
    targets,
    backup,
    backupAll,
    list: () => repository.scan(),
    listRemote: (from) => scanRemote(from, displayBase(from), options.signal),
    restore,
    verify,
    recover: () => locked('recover', async () => undefined),
    doctor: (opts = {}) =>
      runDoctor({
        config,
        repository,
        targets: targets.filter((t) => !opts.skip?.includes(t.kind)),
        ctx,
      }),
    // prune frees space: on a full disk it runs on the space reserve (set-lifecycle.ts)
    prune: (opts) =>
      locked(opts.dryRun ? 'prune --dry-run' : 'prune', () => pruneRepository(repository, ctx, opts), {
        spaceReserve: !opts.dryRun,
      }),
    pruneRemote: (destination, opts) =>
      locked(opts.dryRun ? 'prune --remote --dry-run' : 'prune --remote', () =>
        pruneRemote(destination, displayBase(destination), ctx, opts),
      ),
    copy: (to, opts = {}) =>
      locked(opts.dryRun ? 'copy --dry-run' : 'copy', () =>
        copySets(repository, to, ctx, { ...copyOptions, ...opts }),
      ),
    async close() {
      for (const t of targets) await t.close();
    },
  };
}
