/**
 * Restores one collection snapshot: preflight (version, sharding, overwrite), upload under a
 * unique name with priority=snapshot and the checksum, delete the uploaded copy, re-apply
 * aliases, then verify the exact point count and the sampled points against the manifest.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { QnbError, VerificationError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import { byteCounter } from '../../core/transfer.js';
import type { TargetContext } from '../target.js';
import type { AliasAction, AliasDescription, QdrantApi } from './qdrant-api.js';
import { otherNodesForSnapshot } from './qdrant-cluster.js';
import { clusterDetails } from './qdrant-cluster-details.js';
import { compareSample } from './qdrant-sample.js';

/** Options of one restore. */
export interface QdrantRestoreOptions {
  /** Collection to restore into. @default the artifact's collection */
  as?: string;
  /** Whether the target collection exists (checked by the caller before the safety backup). */
  targetExists: boolean;
}

/** What a restore did and found. */
export interface QdrantRestoreReport {
  collection: string;
  from: string;
  expectedPoints: string;
  points: number;
  aliases: { applied: string[]; skipped: string[] };
  sampleChecked: number;
  durationMs: number;
  /** `--dry-run`: the steps a restore would take; nothing was changed. */
  plan?: string[];
}

/** Refuses restores that Qdrant would silently get wrong. */
export function checkShardingRestorable(
  artifact: ArtifactRecord,
  target: string,
  targetExists: boolean,
): void {
  const config = (artifact.details?.config ?? {}) as { params?: { sharding_method?: string } };
  // a cluster backup creates the shard keys itself (qdrant-cluster-restore.ts)
  if (
    config.params?.sharding_method === 'custom' &&
    !clusterDetails(artifact) &&
    (target !== artifact.name || !targetExists)
  ) {
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

/** Uploads the snapshot file into `target` and verifies the result. */
export async function restoreQdrantCollection(
  api: QdrantApi,
  artifact: ArtifactRecord,
  filePath: string,
  ctx: TargetContext,
  opts: QdrantRestoreOptions,
): Promise<QdrantRestoreReport> {
  if (clusterDetails(artifact))
    throw new QnbError(
      'E_INTERNAL',
      `${artifact.file} is a cluster backup: restore it with restoreCollectionFile`,
    );
  const started = Date.now();
  const target = opts.as ?? artifact.name;
  checkShardingRestorable(artifact, target, opts.targetExists);
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
  // on a cluster every node recovers its own shards from the snapshot (entry node first: it creates the collection)
  const others = await otherNodesForSnapshot(api, artifact, target);
  try {
    for (const node of [api, ...others.apis]) {
      try {
        const stream = createReadStream(filePath, { highWaterMark: 1 << 20 }).pipe(
          node === api ? counter : byteCounter(() => {}),
        );
        await node.uploadSnapshot(
          target,
          { fileName: uploadName, size: artifact.bytes, stream, sha256: artifact.sha256 },
          { signal: ctx.signal },
        );
      } finally {
        // Qdrant keeps uploaded files in snapshots/<collection>/ (qdrant#10207): remove ours.
        await node.deleteSnapshot(target, uploadName).catch(() => {});
      }
    }
  } finally {
    await others.close();
  }
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'upload',
    name: target,
    bytes: counter.bytes(),
    durationMs: Date.now() - started,
  });
  return checkRestored(api, artifact, target, started);
}

/** Re-applies aliases, then checks the exact point count and the sampled points. */
export async function checkRestored(
  api: QdrantApi,
  artifact: ArtifactRecord,
  target: string,
  started: number,
): Promise<QdrantRestoreReport> {
  const recordedAliases = (artifact.details?.aliases ?? []) as AliasDescription[];
  const aliases = { applied: [] as string[], skipped: [] as string[] };
  if (target === artifact.name) aliases.applied = await reapplyAliases(api, target, recordedAliases);
  else aliases.skipped = recordedAliases.map((a) => a.alias_name);

  const points = await api.countExact(target);
  const range = expectedRange(artifact);
  const expectedPoints = range
    ? range[0] === range[1]
      ? `${range[0]}`
      : `${range[0]}–${range[1]}`
    : 'unknown';
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
    durationMs: Date.now() - started,
  };
}
