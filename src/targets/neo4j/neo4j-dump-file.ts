/**
 * A Neo4j dump written by neo4j-admin alone, and checked to be one before it is listed.
 *
 * `neo4j-admin database dump --to-path=FOLDER` writes `FOLDER/<db>.dump`; nothing else writes
 * those bytes (`--to-stdout` through a Docker image's entrypoint would prepend whatever the
 * entrypoint prints, e.g. the official image's ownership warning). Then the file's own structure
 * is checked: the Neo4j 5 dump header (4-byte magic `DZV1` = zstd or `DGV1` = gzip, written by
 * neo4j/neo4j `org.neo4j.dbms.archive.DumpFormat`/`Dumper`) and `neo4j-admin database load
 * --info`, which reads the archive's metadata without loading anything.
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError, QnbError, VerificationError } from '../../core/errors.js';
import { DIR_MODE, FILE_MODE } from '../../core/fs-safe.js';
import { hashFile, type StreamResult } from '../../core/transfer.js';
import type { TargetContext } from '../target.js';
import type { Neo4jRuntime } from './neo4j-runtime.js';

/** The magics a Neo4j 5 dump starts with (zstd, gzip). */
export const DUMP_MAGICS = ['DZV1', 'DGV1'] as const;

/** The first bytes of a file, as text for messages. */
async function firstBytes(path: string, n: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** Throws a VerificationError unless `path` starts with a Neo4j 5 dump header. */
export async function checkDumpHeader(path: string, label: string): Promise<void> {
  const head = await firstBytes(path, 40);
  const magic = head.subarray(0, 4).toString('latin1');
  if ((DUMP_MAGICS as readonly string[]).includes(magic)) return;
  const shown = JSON.stringify(head.toString('latin1').replace(/[^\x20-\x7e]/g, '.'));
  throw new VerificationError(
    `neo4j: ${label} is not a Neo4j dump: it starts with ${shown}, not ${DUMP_MAGICS.join(' or ')}`,
    'something other than neo4j-admin wrote into it; make a new backup',
  );
}

/** Runs neo4j-admin, kills it on abort, and resolves with its output. */
async function runAdmin(
  runtime: Neo4jRuntime,
  args: string[],
  folder: string,
  ctx: TargetContext,
): Promise<string> {
  // interrupted while Neo4j was stopping: no dump to start (a listener added to a signal that
  // has already fired is never called, so it would run to its end)
  if (ctx.signal?.aborted) throw new InterruptedError();
  const admin = runtime.admin(args, { folder });
  const onAbort = () => admin.kill();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await admin.done;
  } catch (err) {
    // killed because of SIGINT/SIGTERM: that is the cause, not neo4j-admin's exit status
    throw ctx.signal?.aborted ? new InterruptedError() : err;
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Dumps database `db` (server stopped) into `FOLDER/<db>.dump`, reporting the file's growth as
 * progress. Returns the file's path.
 */
export async function dumpIntoFolder(
  runtime: Neo4jRuntime,
  db: string,
  folder: string,
  ctx: TargetContext,
  label: string,
): Promise<string> {
  const file = join(folder, `${db}.dump`);
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'download',
    target: 'neo4j',
    name: db,
    file: label,
  });
  const t0 = Date.now();
  let bytes = 0;
  const poll = setInterval(() => {
    stat(file).then(
      (s) => {
        bytes = s.size;
        ctx.reporter.emit({ type: 'transfer-progress', direction: 'download', name: db, bytes });
      },
      () => {},
    );
  }, 500);
  try {
    await runAdmin(
      runtime,
      ['database', 'dump', db, `--to-path=${runtime.folderPath(folder)}`, '--overwrite-destination=true'],
      folder,
      ctx,
    );
  } finally {
    clearInterval(poll);
  }
  const made = await stat(file).catch(() => undefined);
  if (!made)
    throw new QnbError('E_SERVER', `neo4j "${db}": neo4j-admin finished, but ${file} is not there`, {
      hint: `${runtime.describe()}: qnb mounts a folder of this machine into the admin container, so the Docker engine must run here (check DOCKER_HOST)`,
    });
  bytes = made.size;
  ctx.reporter.emit({
    type: 'transfer-end',
    direction: 'download',
    name: db,
    bytes,
    durationMs: Date.now() - t0,
  });
  return file;
}

/**
 * `neo4j-admin database load --info` on `FOLDER/<db>.dump`: reads the archive's header and
 * metadata (format, files, bytes) without loading it. Throws a VerificationError when it fails
 * or the archive holds no files.
 */
export async function inspectDumpInFolder(
  runtime: Neo4jRuntime,
  db: string,
  folder: string,
  ctx: TargetContext,
  label: string,
): Promise<{ files: number; bytes: number }> {
  let out: string;
  try {
    out = await runAdmin(
      runtime,
      ['database', 'load', db, '--info', `--from-path=${runtime.folderPath(folder)}`],
      folder,
      ctx,
    );
  } catch (err) {
    if (err instanceof InterruptedError) throw err;
    throw new VerificationError(
      `neo4j: ${label}: neo4j-admin cannot read the dump: ${(err as Error).message}`,
      'the dump is damaged; make a new backup',
    );
  }
  const files = Number(/^Files:\s*(\d+)/m.exec(out)?.[1] ?? Number.NaN);
  const bytes = Number(/^Bytes:\s*(\d+)/m.exec(out)?.[1] ?? Number.NaN);
  if (!(files > 0))
    throw new VerificationError(
      `neo4j: ${label}: neo4j-admin found no files in the dump`,
      'make a new backup',
    );
  return { files, bytes };
}

/**
 * Dumps `db` with neo4j-admin into `dest` (a new file): the dump is made in a private folder
 * next to `dest` (so it can be mounted into a throwaway container and renamed, not copied),
 * `stopped` wraps the part that needs the server down, then the header and `load --info` are
 * checked, the file is moved to `dest`, made qnb's (mode 0600), fsynced and hashed.
 */
export async function dumpToFile(
  runtime: Neo4jRuntime,
  db: string,
  dest: string,
  label: string,
  ctx: TargetContext,
  stopped: <T>(work: () => Promise<T>) => Promise<T>,
): Promise<StreamResult & { files: number }> {
  const folder = `${dest}.d`;
  await mkdir(folder, { mode: DIR_MODE });
  try {
    const file = await stopped(() => dumpIntoFolder(runtime, db, folder, ctx, label));
    await checkDumpHeader(file, label);
    const info = await inspectDumpInFolder(runtime, db, folder, ctx, label);
    const owner = (await stat(file)).uid;
    const uid = process.getuid?.();
    if (uid === undefined || uid === 0 || owner === uid) await rename(file, dest);
    // written by another user that qnb cannot take it from (qnb in a sidecar under another uid than
    // Neo4j's): a copy of its own, never a file qnb could not chmod or remove later
    else await copyFile(file, dest, constants.COPYFILE_EXCL);
    const fh = await open(dest, 'r+');
    try {
      // written by the container's user: make it qnb's, private, and durable
      if (process.getuid && process.getgid)
        await fh.chown(process.getuid(), process.getgid()).catch(() => {});
      await fh.chmod(FILE_MODE);
      await fh.sync();
    } finally {
      await fh.close();
    }
    const got = await hashFile(dest, ctx.signal ? { signal: ctx.signal } : {});
    return { ...got, files: info.files };
  } finally {
    await rm(folder, { recursive: true, force: true }).catch(() => {});
  }
}
