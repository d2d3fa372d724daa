/**
 * Compares a collection's settings (CollectionInfo.config) with the ones recorded at backup time.
 *
 * Qdrant's recovery into an EXISTING collection only checks that `params.vectors` and
 * `params.shard_number` match, then replaces the shard data: the collection keeps its own HNSW,
 * optimizer, quantization, on-disk and strict-mode settings (`_do_recover_from_snapshot` in
 * lib/storage/src/content_manager/snapshots/recover.rs). qnb therefore restores into a missing
 * collection (created from the snapshot's config) and checks the result with this comparison.
 */

type Json = Record<string, unknown>;

/** The parts of CollectionConfig a restore must give back. */
export const COMPARED_SETTINGS = [
  'params',
  'hnsw_config',
  'optimizer_config',
  'quantization_config',
  'strict_mode_config',
] as const;

function leaves(value: unknown, path: string, out: Map<string, string>): void {
  if (value === null || value === undefined) return;
  if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Json)) leaves(v, path ? `${path}.${k}` : k, out);
    return;
  }
  out.set(path, JSON.stringify(value));
}

/**
 * The recorded settings that differ now, as `path: recorded → now` lines (null and absent count
 * as equal). Settings the recording does not have are not compared: a newer Qdrant (restore
 * into the next minor version) reports fields the older one did not know. Empty when
 * `recorded` is not an object (nothing was recorded).
 */
export function settingsDiff(recorded: unknown, now: unknown): string[] {
  if (!recorded || typeof recorded !== 'object') return [];
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  for (const key of COMPARED_SETTINGS) {
    leaves((recorded as Json)[key], key, a);
    leaves(((now ?? {}) as Json)[key], key, b);
  }
  const out: string[] = [];
  for (const path of a.keys()) {
    const was = a.get(path);
    const is = b.get(path);
    if (was !== is) out.push(`${path}: ${was ?? 'unset'} → ${is ?? 'unset'}`);
  }
  return out.sort();
}
