/**
 * Custom sharding and shard ids. Qdrant recovers a snapshot into an existing collection shard by
 * shard ID (recover.rs: each of the target's shards from the snapshot's shard of the same id), and
 * routes points among the shards of one key by shard id (a hash ring over the ids). So qnb
 * restores a custom-sharded collection only where the shard ids are the backup's: over a
 * collection whose shard keys hold the same ids, or (cluster backups) into a new collection whose
 * keys of one shard each it creates itself. Everything here runs before anything is changed.
 */
import { open } from 'node:fs/promises';
import { QnbError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { QdrantApi } from './qdrant-api.js';
import type { ClusterBackupDetails } from './qdrant-cluster-details.js';

/** Shard key (as a string) → its shard ids, ascending. */
export type ShardKeyIds = Map<string, number[]>;

/** Whether the collection backed up in `a` uses custom sharding (its recorded config). */
export const isCustomSharded = (a: ArtifactRecord): boolean =>
  (a.details?.config as { params?: { sharding_method?: string } } | undefined)?.params?.sharding_method ===
  'custom';

/** Where Qdrant keeps the mapping, at the root of a collection snapshot. */
const MAPPING_MEMBER = 'shard_key_mapping.json';
const BLOCK = 512;
/** A mapping file larger than this is not one. */
const MAX_MAPPING_BYTES = 1 << 20;

/** The tar member `name` of the file at `path` (headers read one by one), or undefined. */
async function readTarMember(path: string, name: string): Promise<Buffer | undefined> {
  const fh = await open(path, 'r');
  try {
    const { size: total } = await fh.stat();
    const h = Buffer.alloc(BLOCK);
    for (let pos = 0; pos + BLOCK <= total; ) {
      const { bytesRead } = await fh.read(h, 0, BLOCK, pos);
      if (bytesRead < BLOCK || h.every((b) => b === 0)) return undefined;
      const member = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      // sizes past 8 GiB are base-256 (the high bit set): read as such
      const field = h.subarray(124, 136);
      const size =
        (field[0]! & 0x80) !== 0
          ? Number(field.subarray(4).readBigUInt64BE())
          : Number.parseInt(field.toString('ascii').replace(/\0.*$/s, '').trim() || '0', 8);
      if (!Number.isSafeInteger(size) || size < 0) return undefined;
      if (member.replace(/^\.\//, '') === name) {
        if (size > MAX_MAPPING_BYTES) return undefined;
        const out = Buffer.alloc(size);
        await fh.read(out, 0, size, pos + BLOCK);
        return out;
      }
      pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * The shard key → shard ids mapping inside a collection snapshot, in either of the forms Qdrant
 * has written (`{"key": [ids]}`, or `[{"key": …, "shard_ids": [ids]}]`); undefined when the file
 * has none or it cannot be read.
 */
export async function snapshotShardKeyIds(path: string): Promise<ShardKeyIds | undefined> {
  const raw = await readTarMember(path, MAPPING_MEMBER).catch(() => undefined);
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  const entries: [unknown, unknown][] = Array.isArray(parsed)
    ? parsed.map((e) => [(e as { key?: unknown }).key, (e as { shard_ids?: unknown }).shard_ids])
    : parsed && typeof parsed === 'object'
      ? Object.entries(parsed)
      : [];
  const out: ShardKeyIds = new Map();
  for (const [key, ids] of entries) {
    if (!Array.isArray(ids) || !ids.every((i) => Number.isInteger(i))) return undefined;
    out.set(
      String(key),
      [...(ids as number[])].sort((a, b) => a - b),
    );
  }
  return out;
}

/** The shard key → shard ids mapping of a collection on the server (every peer's shards). */
export async function serverShardKeyIds(api: QdrantApi, name: string): Promise<ShardKeyIds> {
  const info = await api.collectionCluster(name);
  const ids = new Map<string, Set<number>>();
  for (const s of [...info.local_shards, ...info.remote_shards]) {
    if (s.shard_key === undefined || s.shard_key === null) continue;
    const key = String(s.shard_key);
    ids.set(key, (ids.get(key) ?? new Set()).add(s.shard_id));
  }
  return new Map([...ids].map(([k, v]) => [k, [...v].sort((a, b) => a - b)]));
}

const show = (m: ShardKeyIds) =>
  [...m]
    .sort((a, b) => (a[1][0] ?? 0) - (b[1][0] ?? 0))
    .map(([k, ids]) => `${k} (shard ${ids.join(', ')})`)
    .join(', ');

/**
 * Refuses a restore of a custom-sharded collection snapshot over `target` unless every shard key
 * there holds the backup's shard ids: Qdrant would put each shard's points under the key that
 * shard id has on the target. A snapshot without a readable mapping is let through (nothing to
 * compare; Qdrant's own checks apply).
 */
export async function checkShardIdsMatch(
  api: QdrantApi,
  snapshotPath: string,
  what: string,
  target: string,
): Promise<void> {
  const want = await snapshotShardKeyIds(snapshotPath);
  if (!want || want.size === 0) return;
  const have = await serverShardKeyIds(api, target);
  const same =
    want.size === have.size && [...want].every(([k, ids]) => have.get(k)?.join(',') === ids.join(','));
  if (same) return;
  throw new QnbError(
    'E_REFUSED',
    `qdrant: "${target}" has shard keys ${show(have) || '(none)'}, the backup ${what} has ${show(want)}; Qdrant restores shard by shard id, so points would come back under other keys`,
    {
      hint: `create "${target}" again with its shard keys created in the backup's order (${[...want]
        .sort((a, b) => (a[1][0] ?? 0) - (b[1][0] ?? 0))
        .map(([k]) => k)
        .join(', ')}), then restore into it with --yes`,
    },
  );
}

/**
 * What stops qnb restoring a cluster backup of a custom-sharded collection, or undefined: more
 * than one shard for a key. Qdrant routes points among a key's shards by shard id, and a new
 * collection's ids cannot be chosen, so qnb cannot put them back where Qdrant looks for them.
 */
export function severalShardsPerKey(details: ClusterBackupDetails): string | undefined {
  if (details.shardingMethod !== 'custom') return undefined;
  const perKey = new Map<string, number[]>();
  for (const s of details.shards) {
    if (s.shardKey === undefined) continue;
    const key = String(s.shardKey);
    perKey.set(key, [...(perKey.get(key) ?? []), s.shardId]);
  }
  const several = [...perKey].find(([, ids]) => ids.length > 1);
  return several
    ? `${several[1].length} shards for shard key ${several[0]} (shards ${several[1].join(', ')}); qnb restores custom sharding with one shard per key only`
    : undefined;
}

/** Refuses, before anything changes, a cluster backup severalShardsPerKey names. */
export function checkClusterShardsPerKey(details: ClusterBackupDetails, name: string): void {
  const why = severalShardsPerKey(details);
  if (!why) return;
  throw new QnbError('E_UNSUPPORTED', `qdrant: "${name}" has ${why}`, {
    hint: 'restore it by hand: create the collection and its shard keys, then upload each shard snapshot in the backup file to /collections/NAME/shards/ID/snapshots/upload under the same shard id',
  });
}
