/**
 * Crash-safe file primitives: write to a temporary name in the same folder, fsync, rename,
 * then fsync the folder (restic's local backend Save). Files 0600, folders 0700.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, link, mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ioError } from './errors.js';

/** Prefix of every temporary file qnb writes; leftovers with it are removed by the next run. */
export const TEMP_PREFIX = '.qnb-tmp-';

/** Mode of files qnb writes. */
export const FILE_MODE = 0o600;
/** Mode of folders qnb creates. */
export const DIR_MODE = 0o700;

/** Creates a folder (and parents) with mode 0700. Existing folders keep their mode. */
export async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
  } catch (err) {
    throw ioError(err as NodeJS.ErrnoException, dir);
  }
}

/** A temporary path beside `finalPath`, so that rename is atomic. */
export function tempPathFor(finalPath: string): string {
  return join(dirname(finalPath), `${TEMP_PREFIX}${randomBytes(4).toString('hex')}-${basename(finalPath)}`);
}

/** fsyncs a folder so a rename inside it survives a power loss. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY);
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Moves a complete, already fsynced temporary file to its final name and fsyncs the folder.
 * Refuses to replace an existing file.
 */
export async function commitFile(tempPath: string, finalPath: string): Promise<void> {
  try {
    await chmod(tempPath, FILE_MODE);
    // link+unlink instead of rename: link fails with EEXIST instead of silently replacing a backup.
    await link(tempPath, finalPath);
    await unlink(tempPath);
    await fsyncDir(dirname(finalPath));
  } catch (err) {
    throw ioError(err as NodeJS.ErrnoException, finalPath);
  }
}

/** Writes `data` to `path` atomically (temp + fsync + rename + folder fsync), mode 0600. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathFor(path);
  try {
    const fh = await open(tmp, 'wx', FILE_MODE);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    await fsyncDir(dirname(path));
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw ioError(err as NodeJS.ErrnoException, path);
  }
}
