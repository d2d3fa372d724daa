/**
 * Snapshot files on disk: names, SnapshotDescription, checksum side files, safe paths.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { notFound } from './http-util.js';

/** SnapshotDescription as Qdrant serialises it (checksum omitted when there is no side file). */
export interface SnapshotDescription {
  name: string;
  creation_time: string | null;
  size: number;
  checksum?: string | null;
}

/** `YYYY-MM-DD-HH-MM-SS` in UTC, as in Qdrant's snapshot names. */
export function timestamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

/** `{collection}-{peer_id}-{timestamp}.snapshot`. */
export const collectionSnapshotName = (c: string, peerId: number, d = new Date()) =>
  `${c}-${peerId}-${timestamp(d)}.snapshot`;

/** `full-snapshot-{timestamp}.snapshot`. */
export const fullSnapshotName = (d = new Date()) => `full-snapshot-${timestamp(d)}.snapshot`;

/** The `.checksum` side file of a snapshot. */
export const checksumPath = (snapshotPath: string) => `${snapshotPath}.checksum`;

/** Naive UTC date-time with seconds ("partial-date-time"), like chrono's NaiveDateTime. */
function naive(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

/** Describe one snapshot file. */
export async function describe(path: string, name: string): Promise<SnapshotDescription> {
  const st = await stat(path);
  const creation_time = st.birthtimeMs > 0 ? naive(st.birthtimeMs) : null;
  const d: SnapshotDescription = { name, creation_time, size: st.size };
  try {
    d.checksum = (await readFile(checksumPath(path), 'utf8')).trim();
  } catch {
    // no side file: Qdrant omits the field
  }
  return d;
}

/** List `*.snapshot` files of a directory (directory order, like Qdrant). */
export async function listSnapshots(dir: string): Promise<SnapshotDescription[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: SnapshotDescription[] = [];
  for (const name of names) {
    if (!name.endsWith('.snapshot')) continue;
    const path = join(dir, name);
    try {
      if ((await stat(path)).isFile()) out.push(await describe(path, name));
    } catch {
      // deleted meanwhile
    }
  }
  return out;
}

/**
 * Persist a finished temp file as a snapshot like Qdrant's `store_file`: the checksum side file
 * is written first, then the snapshot is renamed into place (atomic), so a listed snapshot
 * always has its checksum.
 */
export async function storeSnapshot(tmpPath: string, target: string, sha256: string): Promise<void> {
  await mkdir(join(target, '..'), { recursive: true });
  const tmpChecksum = `${checksumPath(target)}.${randomUUID()}.tmp`;
  await writeFile(tmpChecksum, sha256);
  await rename(tmpChecksum, checksumPath(target));
  await rename(tmpPath, target);
}

/**
 * Resolve `name` inside `dir` like Qdrant's `get_snapshot_path`: the canonical path must be a
 * file inside the canonical directory; 404 otherwise.
 */
export async function snapshotPath(dir: string, name: string): Promise<string> {
  const missing = () => notFound(`Snapshot ${name} not found`);
  if (name === '' || name.includes('\0')) throw missing();
  let base: string;
  let full: string;
  try {
    base = await realpath(dir);
    full = await realpath(join(dir, name));
  } catch {
    throw missing();
  }
  if (!full.startsWith(base + sep)) throw missing();
  if (!(await stat(full)).isFile()) throw missing();
  return full;
}

/** Delete a snapshot and its checksum side file. */
export async function deleteSnapshot(path: string): Promise<void> {
  await rm(path);
  await rm(checksumPath(path), { force: true });
}

/** A unique temp file path in `dir`. */
export async function tempFile(dir: string, prefix: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  return join(dir, `${prefix}-${randomUUID()}.tmp`);
}
