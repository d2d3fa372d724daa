/**
 * Restores one collection snapshot: preflight (version, sharding, overwrite, alias names), drop
 * an existing target (its safety snapshot was taken by the caller) so the collection comes back
 * with the backed-up settings, upload under a unique name with priority=snapshot and the
 * checksum, delete the uploaded copy (and check it is gone), re-apply aliases, then verify the
 * settings, the exact point count and the sampled points against the manifest.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { QnbError, VerificationError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { byteCounter } from '../../core/transfer.js';
import type { TargetContext } from '../target.js';
import { explainUploadFailure } from './qdrant-access.js';
import type { AliasAction, AliasDescription, QdrantApi } from './qdrant-api.js';
import { countPoints } from './qdrant-count.js';
import { settleDeferred } from './qdrant-deferred.js';
import { mayStillRun } from './qdrant-errors.js';
import { compareSample } from './qdrant-sample.js';
import { settingsDiff } from './qdrant-settings.js';
import { settleAfterInterruptedUpload } from './qdrant-settle.js';

/** Options of one restore. */
export interface QdrantRestoreOptions {
  /** Collection to restore into. @default the artifact's collection */
  as?: string;
  /** Whether the target collection exists (checked by the caller before the safety backup). */
  targetExists: boolean;
  /** Where the overwritten collection's safety backup is (for the error after a failed upload). */
  safetyNote?: string;
}

/** What a restore did and found. */
export interface QdrantRestoreReport {
  collection: string;
  from: string;
  expectedPoints: string;
  points: number;
  aliases: { applied: string[]; skipped: string[] };
  sampleChecked: number;
  /** How the restored settings compare with the manifest's. */
  settings: 'as backed up' | 'not recorded' | 'kept the existing collection';
  /** `scroll` when strict mode forbids exact counts and the points were counted by scrolling. */
  countMethod: 'exact' | 'scroll';
  durationMs: number;
}

/** Refuses restores that Qdrant would silently get wrong. */
export function checkShardingRestorable(
  artifact: ArtifactRecord,
  target: string,
  targetExists: boolean,
): void {
  const config = (artifact.details?.config ?? {}) as { params?: { sharding_method?: string } };
  if (config.params?.sharding_method === 'custom' && (target !== artifact.name || !targetExists)) {
    throw new QnbError(
      'E_UNSUPPORTED',
      `qdrant: "${artifact.name}" uses custom sharding; restored as "${target}" it would come back empty`,
      {
        hint: `create "${target}" with the same shard keys first, then restore into it`,
      },
    );
  }
}

function expectedRange(a: ArtifactRecord): [number, number] | undefined {
  if (typeof a.counts.points === 'number') return [a.counts.points, a.counts.points];
  if (typeof a.counts.pointsMin === 'number' && typeof a.counts.pointsMax === 'number')
    return [a.counts.pointsMin, a.counts.pointsMax];
  // a lower bound only: the collection hid deferred points at backup time (qdrant-deferred.ts)
  if (typeof a.counts.pointsMin === 'number') return [a.counts.pointsMin, Number.POSITIVE_INFINITY];
  return undefined;
}

/**
 * Qdrant restores a full-storage snapshot only at start-up (src/main.rs): `--storage-snapshot
 * FILE` recreates every collection and alias, and `--force-snapshot` is needed when any of them
 * exist already (without it Qdrant stops with "Use --force-snapshot to overwrite it").
 */
export function fullSnapshotRestoreError(file: string, path: string): QnbError {
  return new QnbError(
    'E_UNSUPPORTED',
    `${file} is a full-storage snapshot; Qdrant has no API to restore one`,
    {
      hint: `stop Qdrant, then start it once with: qdrant --storage-snapshot ${path} --force-snapshot (--force-snapshot replaces the collections and aliases it holds; in Docker, mount the file and give its path inside the container)`,
    },
  );
}

/** Refuses a target name that is an alias (the upload would stay in snapshots/<alias>/). */
export async function refuseAliasTarget(api: QdrantApi, target: string): Promise<void> {
  const alias = (await api.listAliases()).find((a) => a.alias_name === target);
  if (!alias) return;
  throw new QnbError(
    'E_REFUSED',
    `qdrant: "${target}" is an alias of collection "${alias.collection_name}", not a collection`,
    {
      hint: `restore into "${alias.collection_name}" (with --yes) or into a new name; Qdrant would keep the uploaded copy in snapshots/${target}/ on the server`,
    },
  );
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

/** Uploads the snapshot file into `target` and verifies the result. */
export async function restoreQdrantCollection(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  ctx: TargetContext,
  opts: QdrantRestoreOptions,
): Promise<QdrantRestoreReport> {
  const started = Date.now();
  const target = opts.as ?? artifact.name;
  checkShardingRestorable(artifact, target, opts.targetExists);
  const recordedConfig = artifact.details?.config;
  const custom =
    (recordedConfig as { params?: { sharding_method?: string } } | undefined)?.params?.sharding_method ===
    'custom';
  // Qdrant recovers into an existing collection keeping that collection's settings; a dropped
  // one is created from the snapshot's config. Custom sharding needs the user's shard keys, so
  // that collection is kept (and its settings compared below).
  const dropFirst = opts.targetExists && !custom;
  const keptAliases = dropFirst ? await api.listAliases(target) : [];
  if (dropFirst) {
    ctx.reporter.emit({
      type: 'step',
      target: 'qdrant',
      name: target,
      message: `dropping "${target}" so it comes back with the backed-up settings`,
    });
    await api.deleteCollection(target);
  }
  try {
    await uploadInto(api, artifact, filePath, target, ctx);
  } catch (err) {
    if (!dropFirst || !(err instanceof QnbError)) throw err;
    throw new QnbError(err.code, `${err.message} (the previous "${target}" was dropped before the upload)`, {
      hint: opts.safetyNote ?? err.hint,
      cause: err,
      retryable: err.retryable,
    });
  }

  const recordedAliases = (artifact.details?.aliases ?? []) as AliasDescription[];
  const aliases = { applied: [] as string[], skipped: [] as string[] };
  const own = target === artifact.name ? recordedAliases : [];
  const again = keptAliases.filter((k) => !own.some((a) => a.alias_name === k.alias_name));
  aliases.applied = await reapplyAliases(api, target, [...own, ...again]);
  if (target !== artifact.name) aliases.skipped = recordedAliases.map((a) => a.alias_name);

  const settle = await settleDeferred(api, target, await api.getCollection(target), ctx);
  const info = settle.info;
  let settings: QdrantRestoreReport['settings'] = 'not recorded';
  if (recordedConfig && typeof recordedConfig === 'object') {
    const diff = settingsDiff(recordedConfig, info.config);
    if (diff.length && !custom) {
      throw new VerificationError(
        `qdrant "${target}": restored settings differ from the backup: ${diff.join('; ')}`,
        'the server did not recreate the collection from the snapshot; check the Qdrant server log',
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
  return {
    collection: target,
    from: artifact.file,
    expectedPoints,
    points,
    aliases,
    sampleChecked: sample.length,
    settings,
    countMethod,
    durationMs: Date.now() - started,
  };
}

/** Uploads the file under a unique name, then deletes the uploaded copy and checks it is gone. */
async function uploadInto(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  target: string,
  ctx: TargetContext,
): Promise<void> {
  const started = Date.now();
  const uploadName = `qnb-restore-${randomBytes(6).toString('hex')}.snapshot`;
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'upload',
    target: 'qdrant',
    name: target,
    file: artifact.file,
    totalBytes: artifact.bytes,
  });
  // the file was hashed against the manifest just before, and Qdrant checks `checksum` itself,
  // so the upload only counts bytes (hashing twice cost a quarter of the upload speed)
  const counter = byteCounter((bytes) =>
    ctx.reporter.emit({
      type: 'transfer-progress',
      direction: 'upload',
      name: target,
      bytes,
      totalBytes: artifact.bytes,
    }),
  );
  let uploaded = false;
  try {
    const stream = createReadStream(filePath, { highWaterMark: 1 << 20 }).pipe(counter);
    await api.uploadSnapshot(
      target,
      { fileName: uploadName, size: artifact.bytes, stream, sha256: artifact.sha256 },
      { signal: ctx.signal },
    );
    uploaded = true;
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    const explained = await explainUploadFailure(api, target, err);
    if (explained !== err || !(err instanceof QnbError) || !mayStillRun(err)) throw explained;
    // the server may have the whole file and be recovering it: wait before touching anything
    await settleAfterInterruptedUpload(api, target, err, ctx, { expected: expectedRange(artifact) });
    uploaded = true;
  } finally {
    // Qdrant keeps uploaded files in snapshots/<collection>/ (qdrant#10207): remove ours.
    await removeUploadedCopy(api, target, uploadName, ctx, uploaded);
  }
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name: target,
    bytes: counter.bytes(),
    durationMs: Date.now() - started,
  });
}

/**
 * Deletes the uploaded copy; a 404 is only "gone" when the listing agrees. Never throws.
 * `uploaded`: the server accepted the upload (so a copy certainly was stored).
 */
export async function removeUploadedCopy(
  api: QdrantApi,
  target: string,
  uploadName: string,
  ctx: TargetContext,
  uploaded: boolean,
): Promise<void> {
  const warn = (message: string) =>
    ctx.reporter.emit({ type: 'warning', target: 'qdrant', name: target, message });
  try {
    if (await api.deleteSnapshot(target, uploadName)) return;
    const listed = await api.listSnapshots(target).catch(() => undefined);
    if (listed && !listed.some((s) => s.name === uploadName)) {
      // not found and not listed: never stored, or kept where the API cannot see it (S3 storage)
      if (uploaded)
        warn(
          `the server answered 404 to deleting the uploaded copy ${uploadName} and does not list it; with snapshots_storage s3 Qdrant may keep it in its local snapshots/${target}/ folder`,
        );
      return;
    }
    warn(
      `the uploaded copy ${uploadName} is still on the server (snapshots/${target}/) and could not be deleted; delete it by hand`,
    );
  } catch (err) {
    warn(`could not delete the uploaded copy ${uploadName} on the server: ${(err as Error).message}`);
  }
}
