/**
 * A folder as a copy destination: an external drive, a NAS mount, any mounted folder. Objects are files
 * below the root; a put writes `.qnb-tmp-<random>-<name>` beside the final name, hashes while
 * writing, fsyncs, checks the sha256, renames and fsyncs the folder (restic's local `Save`).
 * The root must already exist: an unmounted drive must not silently become a folder on the system disk.
 */
import { randomBytes } from 'node:crypto';
import { constants, createWriteStream } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InterruptedError, isAbort, NotFoundError, QnbError } from '../../core/errors.js';
import { DIR_MODE, FILE_MODE, fsyncDir, TEMP_PREFIX } from '../../core/fs-safe.js';
import { createRingFile } from '../../core/ring-file.js';
import { hashingCounter, type StreamResult } from '../../core/transfer.js';
import {
  type BackendProperties,
  type CallOptions,
  type CopyBackend,
  checkKey,
  checkStreamed,
  type GetToFileOptions,
  type ObjectInfo,
  type PutOptions,
} from '../backend.js';

/** Settings of a folder destination. */
export interface DirBackendConfig {
  /** Absolute path of the destination folder; it must exist. */
  root: string;
}

/** Maps a file system error on the copy destination to one clear QnbError. */
export function dirError(err: unknown, root: string, path: string): QnbError {
  if (err instanceof QnbError) return err;
  const e = err as NodeJS.ErrnoException;
  const where = `copy target ${root}`;
  switch (e?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new QnbError('E_IO', `${where}: no space left on device (writing ${path})`, {
        hint: 'free space on the target, prune it (`qnb prune --remote`), or copy to a larger drive',
        cause: e,
      });
    case 'EACCES':
    case 'EPERM':
      return new QnbError('E_IO', `${where}: permission denied (${path})`, {
        hint: 'make the folder writable for this user, or choose another --to folder',
        cause: e,
      });
    case 'EROFS':
      return new QnbError('E_IO', `${where}: read-only file system`, {
        hint: 'mount the drive read-write, or choose another --to folder',
        cause: e,
      });
    case 'ENOENT':
      return new NotFoundError(`${where}: ${path}: no such file or directory`);
    case 'ENOTDIR':
      return new QnbError('E_IO', `${where}: ${path} is not a folder`, { cause: e });
    default:
      return new QnbError('E_IO', `${where}: ${e?.code ?? 'I/O error'}: ${e?.message ?? String(err)}`, {
        cause: e,
      });
  }
}

/** Opens a folder destination. Nothing is touched until the first call. */
export function createDirBackend(config: DirBackendConfig): CopyBackend {
  const { root } = config;
  const pathOf = (key: string) => {
    checkKey(key);
    return join(root, ...key.split('/'));
  };
  const props: BackendProperties = {
    kind: 'dir',
    location: root,
    storesSha256: false,
    verification:
      'sha256 of the bytes written, checked before the fsynced temporary file is renamed into place',
  };

  async function checkRoot(): Promise<void> {
    const s = await stat(root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        throw new NotFoundError(
          `copy target ${root}: folder does not exist`,
          'create it (mkdir) or mount the drive; qnb never creates the target folder itself',
        );
      }
      throw dirError(err, root, root);
    });
    if (!s.isDirectory()) throw new QnbError('E_USAGE', `copy target ${root}: not a folder`);
  }

  /** mkdir -p, with the real reason when it fails (on a read-only mount Node reports ENOENT). */
  async function makeDir(dir: string): Promise<void> {
    try {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await checkRoot();
      await access(root, constants.W_OK);
      throw err;
    }
  }

  /** Removes temp files an interrupted put of the same name left beside it. */
  async function removeStaleTemps(dir: string, name: string): Promise<void> {
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const n of names) {
      if (n.startsWith(TEMP_PREFIX) && n.endsWith(`-${name}`)) await rm(join(dir, n), { force: true });
    }
  }

  async function put(key: string, body: Readable, opts: PutOptions): Promise<ObjectInfo> {
    const final = pathOf(key);
    await checkRoot();
    const dir = dirname(final);
    const name = final.slice(dir.length + 1);
    const tmp = join(dir, `${TEMP_PREFIX}${randomBytes(4).toString('hex')}-${name}`);
    try {
      await makeDir(dir);
      await removeStaleTemps(dir, name);
      const counter = hashingCounter(opts.onProgress);
      const out = createWriteStream(tmp, { flags: 'wx', mode: FILE_MODE, flush: true });
      await pipeline(body, counter, out, { signal: opts.signal });
      checkStreamed(`copy ${key} to ${root}`, counter.result(), opts);
      await rename(tmp, final);
      await fsyncDir(dir);
    } catch (err) {
      body.destroy();
      await rm(tmp, { force: true }).catch(() => {});
      if (isAbort(err, opts.signal)) throw new InterruptedError();
      throw dirError(err, root, final);
    }
    return { key, size: opts.size, sha256: opts.sha256 };
  }

  async function get(key: string, opts: CallOptions = {}): Promise<Readable> {
    const path = pathOf(key);
    const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw new NotFoundError(`copy target ${root}: ${key} not found`);
      throw dirError(err, root, path);
    });
    return fh.createReadStream({ highWaterMark: 1 << 20, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /**
   * A stored file into a new file at `path` (or into `opts.sink`): read into the slots of a ring
   * whose worker hashes (core/ring-file.ts, core/ring-age.ts), as a restore from S3 is. `undefined`,
   * with nothing created, when the file cannot be opened: `get` then says why.
   */
  async function getToFile(
    key: string,
    path: string,
    opts: GetToFileOptions = {},
  ): Promise<StreamResult | undefined> {
    const src = pathOf(key);
    const fh = await open(src, 'r').catch(() => undefined);
    if (!fh) return undefined;
    let failure: Error | undefined;
    try {
      const size = (await fh.stat()).size;
      const sink = (opts.sink ?? createRingFile)(path, {
        expectedBytes: opts.expectedBytes ?? size,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        onError: (e) => {
          failure ??= e;
        },
      });
      try {
        sink.open();
        for (let pos = 0; ; ) {
          if (opts.signal?.aborted) throw new InterruptedError();
          const slot = sink.slot();
          const { bytesRead } = await fh.read(slot, 0, slot.length, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          if (!sink.write(slot, 0, bytesRead)) await sink.free();
          if (failure) throw failure;
        }
        return await sink.finish();
      } finally {
        await sink.close();
      }
    } catch (err) {
      throw dirError(err, root, src);
    } finally {
      await fh.close();
    }
  }

  async function statKey(key: string): Promise<ObjectInfo | undefined> {
    const path = pathOf(key);
    try {
      const s = await stat(path);
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw dirError(err, root, path);
      await checkRoot();
      return undefined;
    }
  }

  /** Files below `rel` (a folder key or ''), depth first, sorted by key. */
  async function* walk(rel: string): AsyncGenerator<ObjectInfo> {
    const dir = rel ? join(root, ...rel.split('/')) : root;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (rel && (code === 'ENOENT' || code === 'ENOTDIR')) return;
      if (!rel && code === 'ENOENT') await checkRoot();
      throw dirError(err, root, dir);
    }
    const sorted = entries
      .filter((e) => !e.name.startsWith(TEMP_PREFIX))
      .map((e) => ({ e, key: rel ? `${rel}/${e.name}` : e.name }))
      // a folder sorts as `name/`, so the order is the same as S3's order of whole keys
      .map((x) => ({ ...x, order: x.e.isDirectory() ? `${x.key}/` : x.key }))
      .sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    for (const { e, key } of sorted) {
      if (e.isDirectory()) yield* walk(key);
      else if (e.isFile()) {
        const s = await stat(join(dir, e.name)).catch(() => undefined);
        if (s) yield { key, size: s.size, modified: s.mtime };
      }
    }
  }

  async function* list(prefix: string): AsyncGenerator<ObjectInfo> {
    // walk only the deepest folder the prefix names completely
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    if (base) checkKey(base);
    else await checkRoot();
    for await (const info of walk(base)) if (info.key.startsWith(prefix)) yield info;
  }

  return {
    name: root,
    properties: () => ({ ...props }),
    put,
    get,
    getToFile,
    stat: statKey,
    list,
    async remove(key) {
      const path = pathOf(key);
      await rm(path, { force: true }).catch((err) => {
        throw dirError(err, root, path);
      });
    },
    async close() {},
  };
}
