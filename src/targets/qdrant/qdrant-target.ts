/**
 * The Qdrant target: one Qdrant server, reached over its REST API. Implements the Target
 * contract (target.ts) with the collection preflight, per-collection and full-storage snapshots,
 * restores (qdrant-target-restore.ts), the scratch-collection drill and doctor's Qdrant checks.
 */
import { randomBytes } from 'node:crypto';
import type { DrillConfig, QdrantConfig } from '../../config/schema.js';
import { keysDigest } from '../../core/consistency.js';
import { NotFoundError, QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { Repository } from '../../core/repository.js';
import type {
  BackupScope,
  DoctorCheck,
  DrillChecks,
  DrillOutcome,
  Target,
  TargetContext,
} from '../target.js';
import { qdrantAccessCheck } from './qdrant-access.js';
import { createQdrantApi, type QdrantApi } from './qdrant-api.js';
import { backupQdrantScope, prepareQdrantScope } from './qdrant-backup.js';
import { attachNodeConfig } from './qdrant-cluster.js';
import { type PreparedClusterBackup, prepareClusterBackup } from './qdrant-cluster-backup.js';
import { clusterDetails } from './qdrant-cluster-details.js';
import { clusterDoctorChecks } from './qdrant-cluster-doctor.js';
import { restoreCollectionFile } from './qdrant-cluster-restore.js';
import { qdrantKeys, qdrantLinkSide } from './qdrant-links.js';
import { checkShardingRestorable } from './qdrant-restore.js';
import {
  planQdrantRestore,
  type QdrantRestorePlan,
  qdrantRestoreRefusals,
  qdrantSafetyBackup,
  restorePlanned,
  restoreQdrant,
  untrustedArtifact,
} from './qdrant-target-restore.js';

/** What the Qdrant target is built from. */
export interface QdrantTargetDeps {
  config: Readonly<QdrantConfig>;
  repository: Repository;
  /** A Qdrant API to use instead of one built from the config (tests, custom transports); not closed. */
  api?: QdrantApi;
  /** Semantic probes: samples recorded per collection, recall threshold of restores and drills. */
  drill?: Readonly<Pick<DrillConfig, 'qdrantSamples' | 'recallThreshold'>>;
}

/** A backup scope of Qdrant: one collection, or the full storage (`collection` null). */
interface QdrantScope extends BackupScope {
  collection: string | null;
  version: string;
  keepServerSnapshot: boolean;
  /** Distributed Qdrant: the planned shard-snapshot backup (preflight); undefined on a single node. */
  cluster?: PreparedClusterBackup;
}

/** Builds the Qdrant target; the API client is created on first use. */
export function createQdrantTarget(deps: QdrantTargetDeps): Target {
  const { config } = deps;
  let api: QdrantApi | undefined = deps.api;
  const qdrant = () => {
    // the node list (QDRANT_NODE_URLS) travels with the entry node's client: every cluster
    // check (backup, safety backup, restore, doctor) finds the peers' REST URLs there
    api ??= attachNodeConfig(createQdrantApi({ url: config.url, apiKey: config.apiKey }), {
      nodeUrls: config.nodes,
      apiKey: config.apiKey,
    });
    return api;
  };
  const threshold = deps.drill?.recallThreshold;
  const backupOptions = (s: QdrantScope) => ({
    keepServerSnapshot: s.keepServerSnapshot,
    probeSamples: deps.drill?.qdrantSamples ?? 20,
  });
  /** Cluster clients opened by preflight, closed with the target. */
  const closers: (() => Promise<void>)[] = [];
  const restoreDeps = () => ({
    api: qdrant(),
    repository: deps.repository,
    keepServerSnapshots: config.keepServerSnapshots,
    ...(threshold === undefined ? {} : { recallThreshold: threshold }),
  });
  return {
    kind: 'qdrant',
    name: 'qdrant',
    restoreKinds: ['qdrant-collection'],
    async probe() {
      return { version: await qdrant().version(), capabilities: { fullSnapshot: true, onlineBackup: true } };
    },
    async preflight(req, ctx) {
      const q = qdrant();
      // nothing is written until the server answers and the collections exist
      const version = await q.version();
      const scopes = req.full ? [null] : await resolveCollections(q, req.collections ?? config.collections);
      if (scopes.length === 0)
        ctx.reporter.emit({
          type: 'warning',
          target: 'qdrant',
          message: 'Qdrant has no collections; nothing to back up',
        });
      const keep = req.keepServerSnapshots ?? config.keepServerSnapshots;
      // distributed Qdrant: one shard snapshot per shard, planned (or refused) before anything is written
      const cluster = await prepareClusterBackup(q, {
        ...{ full: Boolean(req.full), scopes, serverVersion: version, keepServerSnapshot: keep, ctx },
      });
      if (cluster) closers.push(cluster.close);
      return scopes.map(
        (scope): QdrantScope => ({
          name: scope ?? '*',
          collection: scope,
          version,
          keepServerSnapshot: keep,
          ...(cluster ? { cluster } : {}),
        }),
      );
    },
    backup(scope, sink, ctx) {
      const s = scope as QdrantScope;
      // the topology was checked in preflight: shard snapshots on a cluster, else one snapshot
      if (s.cluster && s.collection !== null) return s.cluster.backup(s.collection, sink);
      return backupQdrantScope(qdrant(), s.collection, s.version, sink, ctx, backupOptions(s));
    },
    // several collections: the next snapshot is created while the current one downloads
    backupsInFlight: config.snapshotsInFlight,
    async prepareBackup(scope, ctx) {
      const s = scope as QdrantScope;
      const cluster = s.cluster;
      if (cluster && s.collection !== null) {
        const collection = s.collection;
        return { run: (sink) => cluster.backup(collection, sink), release: async () => {} };
      }
      return prepareQdrantScope(qdrant(), s.collection, s.version, ctx, backupOptions(s));
    },
    pickSpec: (sel) => ({
      target: 'qdrant',
      kinds: ['qdrant-collection', 'qdrant-full'],
      command: 'restore-qdrant',
      nameFlag: '--collection',
      untrusted: (p) => untrustedArtifact(p, { file: sel.file, collection: sel.name }),
    }),
    defaultName: (sel) => sel.name,
    planRestore: (artifacts, opts) => planQdrantRestore(qdrant(), artifacts, opts),
    safetyBackup: (plan, sink, ctx) =>
      qdrantSafetyBackup(restoreDeps(), plan as QdrantRestorePlan, sink, ctx),
    restoreRefusals: async (artifact, path, opts) => {
      await qdrantRestoreRefusals(qdrant(), artifact, path, opts);
    },
    restore: (artifact, path, opts, ctx) =>
      opts.plan
        ? restorePlanned(qdrant(), artifact, path, opts.plan as QdrantRestorePlan, ctx, threshold)
        : restoreQdrant(restoreDeps(), artifact, path, opts, ctx),
    drill: (artifact, path, ctx, checks) => drillQdrant(qdrant(), artifact, path, ctx, threshold, checks),
    doctorChecks: () => qdrantChecks(qdrant(), config),
    recover: async () => undefined,
    linkSide: (link) => qdrantLinkSide(qdrant, link),
    async close() {
      for (const close of closers.splice(0)) await close();
      if (api && !deps.api) await api.close();
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

/** `verify --deep`: restores into a scratch collection `qnb-verify-…`, always deleted afterwards. */
async function drillQdrant(
  api: QdrantApi,
  a: ArtifactRecord,
  path: string,
  ctx: TargetContext,
  recallThreshold?: number,
  checks?: DrillChecks,
): Promise<DrillOutcome> {
  if (a.kind !== 'qdrant-collection')
    return {
      skipped: `no restore drill for ${a.kind} (Qdrant restores full-storage snapshots only at server start)`,
    };
  const scratch = `qnb-verify-${a.name.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  // a backup qnb cannot restore under another name (custom sharding on one node would come back
  // empty) cannot be drilled: skipped with the reason before anything is uploaded, never failed
  try {
    // a cluster backup qnb cannot restore (several shards per key) fails its drill instead
    if (!clusterDetails(a)) checkShardingRestorable(a, scratch, false);
  } catch (err) {
    if (err instanceof QnbError && err.code === 'E_UNSUPPORTED')
      return { skipped: `not drilled: ${err.message}` };
    throw err;
  }
  ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: a.name,
    message: `drill: restoring ${a.file} into scratch collection ${scratch}`,
  });
  try {
    await restoreCollectionFile(api, a, path, ctx, {
      as: scratch,
      targetExists: false,
      ...(recallThreshold === undefined ? {} : { recallThreshold }),
    });
    const changing = a.counts.points === undefined;
    for (const { link, digest } of checks?.links ?? []) {
      const keys = await qdrantKeys(api, scratch, link.qdrant.field, ctx.signal);
      if (keysDigest(keys) !== digest && !changing)
        return {
          detail: `link ${link.name}: the snapshot's ${link.qdrant.field} keys differ from the ones the set recorded`,
        };
    }
    return {};
  } finally {
    await api.deleteCollection(scratch).catch(() => {});
  }
}

const msg = (err: unknown) => (err as Error).message;
const hint = (err: unknown) => (err as { hint?: string }).hint;

/** doctor: reachable, API key accepted (manage or read-only), configured collections exist. */
async function qdrantChecks(api: QdrantApi, config: Readonly<QdrantConfig>): Promise<DoctorCheck[]> {
  const out: DoctorCheck[] = [];
  try {
    const version = await api.version();
    out.push({
      area: 'qdrant',
      name: 'Qdrant reachable',
      ok: true,
      detail: `${api.baseUrl} (Qdrant ${version})`,
    });
  } catch (err) {
    out.push({
      area: 'qdrant',
      name: 'Qdrant reachable',
      ok: false,
      detail: msg(err),
      fix: hint(err) ?? 'check QDRANT_URL',
    });
    return out;
  }
  try {
    const names = await api.listCollections();
    out.push({
      area: 'qdrant',
      name: 'API key accepted',
      ok: true,
      detail: config.apiKey ? 'key accepted' : 'no key needed',
    });
    out.push(await qdrantAccessCheck(api));
    const missing = config.collections.filter((c) => !names.includes(c));
    out.push({
      area: 'qdrant',
      name: 'collections',
      ok: missing.length === 0,
      detail: missing.length
        ? `not found: ${missing.join(', ')} (existing: ${names.join(', ') || 'none'})`
        : `${names.length} collection(s): ${names.join(', ') || '—'}`,
      ...(missing.length ? { fix: 'fix QDRANT_COLLECTIONS' } : {}),
    });
    const selected = config.collections.length ? config.collections : names;
    out.push(
      ...(await clusterDoctorChecks(
        api,
        selected.filter((c) => names.includes(c)),
      )),
    );
    out.push({
      area: 'qdrant',
      name: 'server disk for snapshots',
      ok: true,
      warning: true,
      detail:
        'a snapshot needs about 2× the collection size free on the Qdrant server (not visible through the API)',
    });
  } catch (err) {
    out.push({
      area: 'qdrant',
      name: 'API key accepted',
      ok: false,
      detail: msg(err),
      fix: hint(err) ?? 'set QDRANT_API_KEY',
    });
  }
  return out;
}
