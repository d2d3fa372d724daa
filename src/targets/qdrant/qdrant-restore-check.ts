/**
 * After a collection came back (one snapshot upload, or shard by shard for a cluster backup):
 * re-apply the aliases, then verify the settings and payload indexes, the exact point count and
 * the sampled points against the manifest.
 */
import { VerificationError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { TargetContext } from '../target.js';
import type { AliasAction, AliasDescription, QdrantApi } from './qdrant-api.js';
import { countPoints } from './qdrant-count.js';
import { settleDeferred } from './qdrant-deferred.js';
import { payloadSchemaDiff, recordedPayloadSchema } from './qdrant-payload-indexes.js';
import { checkQdrantProbes, type QdrantProbeCheck, type QdrantProbes } from './qdrant-probes.js';
import { compareSample } from './qdrant-sample.js';
import { settingsDiff } from './qdrant-settings.js';

/** What a restore did and found. */
export interface QdrantRestoreReport {
  collection: string;
  from: string;
  expectedPoints: string;
  points: number;
  aliases: { applied: string[]; skipped: string[] };
  sampleChecked: number;
  /** How the restored settings (and payload indexes) compare with the manifest's. */
  settings: 'as backed up' | 'not recorded' | 'kept the existing collection';
  /**
   * The recorded payload indexes found on the restored collection with their data types
   * (`city (keyword)`); absent when the backup recorded none (made before qnb recorded them).
   */
  payloadIndexes?: string[];
  /** `scroll` when strict mode forbids exact counts and the points were counted by scrolling. */
  countMethod: 'exact' | 'scroll';
  /** The semantic probes re-run on the restored collection. */
  probes?: QdrantProbeCheck;
  durationMs: number;
  /** `--dry-run`: the steps a restore would take; nothing was changed. */
  plan?: string[];
}

/** How checkRestored judges what came back. */
export interface RestoreCheckOptions {
  /** When the restore began (Date.now()). */
  started: number;
  /** Aliases that pointed at the collection the restore dropped: they point at it again. */
  keptAliases?: AliasDescription[];
  /** The existing collection was kept (custom sharding): differing settings are a warning only. */
  keptExisting?: boolean;
  /**
   * Settings the restore set differently on purpose (e.g. `params.replication_factor` capped at
   * the number of peers of the target): not compared.
   */
  ignoreSettings?: string[];
  /** Least HNSW recall@10 the probes accept (drill.recallThreshold). @default 0.9 */
  recallThreshold?: number;
}

/** The points the manifest promises: [min, max] (max Infinity: a lower bound only). */
export function expectedRange(a: ArtifactRecord): [number, number] | undefined {
  if (typeof a.counts.points === 'number') return [a.counts.points, a.counts.points];
  if (typeof a.counts.pointsMin === 'number' && typeof a.counts.pointsMax === 'number')
    return [a.counts.pointsMin, a.counts.pointsMax];
  // a lower bound only: the collection hid deferred points at backup time (qdrant-deferred.ts)
  if (typeof a.counts.pointsMin === 'number') return [a.counts.pointsMin, Number.POSITIVE_INFINITY];
  return undefined;
}

async function reapplyAliases(
  api: QdrantApi,
  target: string,
  recorded: AliasDescription[],
): Promise<string[]> {
  if (recorded.length === 0) return [];
  const current = new Map((await api.listAliases()).map((a) => [a.alias_name, a.collection_name]));
  const actions: AliasAction[] = [];
  for (const a of recorded) {
    const now = current.get(a.alias_name);
    if (now === target) continue;
    if (now !== undefined) actions.push({ delete_alias: { alias_name: a.alias_name } });
    actions.push({ create_alias: { alias_name: a.alias_name, collection_name: target } });
  }
  if (actions.length) await api.updateAliases(actions);
  return recorded.map((a) => a.alias_name);
}

/** Re-applies aliases, then checks the settings, the exact point count and the sampled points. */
export async function checkRestored(
  api: QdrantApi,
  artifact: ArtifactRecord,
  target: string,
  ctx: TargetContext,
  opts: RestoreCheckOptions,
): Promise<QdrantRestoreReport> {
  const recordedConfig = artifact.details?.config;
  const recordedAliases = (artifact.details?.aliases ?? []) as AliasDescription[];
  const aliases = { applied: [] as string[], skipped: [] as string[] };
  const own = target === artifact.name ? recordedAliases : [];
  const again = (opts.keptAliases ?? []).filter((k) => !own.some((a) => a.alias_name === k.alias_name));
  aliases.applied = await reapplyAliases(api, target, [...own, ...again]);
  if (target !== artifact.name) aliases.skipped = recordedAliases.map((a) => a.alias_name);

  const settle = await settleDeferred(api, target, await api.getCollection(target), ctx);
  const info = settle.info;
  let settings: QdrantRestoreReport['settings'] = 'not recorded';
  const recordedSchema = recordedPayloadSchema(artifact);
  const schema = payloadSchemaDiff(recordedSchema, info.payload_schema);
  if (recordedConfig && typeof recordedConfig === 'object') {
    const ignored = opts.ignoreSettings ?? [];
    const diff = [...settingsDiff(recordedConfig, info.config), ...schema.missing].filter(
      (d) => !ignored.some((path) => d.startsWith(`${path}:`)),
    );
    if (diff.length && !opts.keptExisting) {
      throw new VerificationError(
        `qdrant "${target}": restored settings differ from the backup: ${diff.join('; ')}`,
        schema.missing.length
          ? `a payload index of the backup is missing: create it (PUT /collections/${target}/index), or restore again`
          : 'the server did not recreate the collection from the snapshot; check the Qdrant server log',
      );
    }
    if (diff.length) {
      ctx.reporter.emit({
        type: 'warning',
        target: 'qdrant',
        name: target,
        message: `custom-sharded "${target}" was kept, so it keeps its own settings: ${diff.join('; ')}`,
      });
      settings = 'kept the existing collection';
    } else settings = 'as backed up';
  }

  const { count: points, method: countMethod } = await countPoints(api, target, info);
  const range = expectedRange(artifact);
  const expectedPoints = range
    ? range[0] === range[1]
      ? `${range[0]}`
      : range[1] === Number.POSITIVE_INFINITY
        ? `at least ${range[0]}`
        : `${range[0]}–${range[1]}`
    : 'unknown';
  if (range && points < range[0] && !settle.settled) {
    throw new VerificationError(
      `qdrant "${target}": could not verify the restore: ${points} points are visible, the manifest recorded ${expectedPoints}, and the collection still hides points its optimizer has not processed (prevent_unoptimized, status ${String(info.status)})`,
      'let the optimizer run (max_optimization_threads > 0), then check the count again',
    );
  }
  if (range && (points < range[0] || points > range[1])) {
    throw new VerificationError(
      `qdrant "${target}": restored ${points} points, the manifest recorded ${expectedPoints}`,
      'the restore is incomplete; check the Qdrant server log (custom sharding or a version mismatch can cause this)',
    );
  }
  const sample = artifact.sample ?? [];
  if (sample.length) {
    const bad = compareSample(
      sample,
      await api.retrieve(
        target,
        sample.map((s) => s.id),
      ),
    );
    const changing = range !== undefined && range[0] !== range[1];
    if (bad.length && !changing) {
      throw new VerificationError(
        `qdrant "${target}": sampled points differ after restore: ids ${bad.join(', ')}`,
        'the snapshot does not hold what was recorded',
      );
    }
  }
  const recorded = artifact.details?.probes as QdrantProbes | undefined;
  const probes = recorded
    ? await checkQdrantProbes(api, target, recorded, {
        recallThreshold: opts.recallThreshold ?? 0.9,
        changing: range !== undefined && range[0] !== range[1],
      })
    : undefined;
  if (probes?.recall !== undefined)
    ctx.reporter.emit({
      type: 'step',
      target: 'qdrant',
      name: target,
      message: `probes: ${probes.checked} exact top-${probes.top ?? 10} identical, HNSW recall@${probes.top ?? 10} ${probes.recall}`,
    });
  return {
    ...(probes ? { probes } : {}),
    ...(recordedSchema && schema.missing.length === 0 ? { payloadIndexes: schema.present } : {}),
    collection: target,
    from: artifact.file,
    expectedPoints,
    points,
    aliases,
    sampleChecked: sample.length,
    settings,
    countMethod,
    durationMs: Date.now() - opts.started,
  };
}
