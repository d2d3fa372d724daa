/**
 * Collection and full-storage snapshot routes.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type Ctx, finishMutation, type Route } from './context.js';
import {
  boolParam,
  checkChecksum,
  checkPriority,
  drain,
  formatError,
  HttpError,
  hashesEqual,
  readJson,
  sendOk,
} from './http-util.js';
import { hashFile, recoverFromFile, resolveLocation } from './recover.js';
import { localContent } from './routes-shards.js';
import { snapshotFileRoutes } from './routes-snapshot-files.js';
import { asStored, snapshotStoreDir } from './s3-storage.js';
import {
  collectionSnapshotName,
  describe,
  fullSnapshotName,
  listSnapshots,
  type SnapshotDescription,
  storeSnapshot,
  tempFile,
} from './snapshot-files.js';
import { snapshotMeta, writeCollectionSnapshot, writeFullSnapshot } from './snapshot-format.js';
import type { CollectionState } from './store.js';
import { checkCollectionName } from './store.js';
import { sanitizeFilename, spoolUpload } from './upload.js';

/** Apply the storage (S3: no checksum) and the wrong-checksum / null-checksum faults. */
function reported(ctx: Ctx, stored: SnapshotDescription): SnapshotDescription {
  const d = asStored(ctx.env, stored);
  const kind = ctx.faults.main?.kind;
  if (kind === 'null-checksum') return { ...d, checksum: null };
  if (kind === 'wrong-checksum') {
    return {
      ...d,
      checksum: createHash('sha256')
        .update(`wrong:${d.checksum ?? d.name}`)
        .digest('hex'),
    };
  }
  return d;
}

/** Write a snapshot of `c` (state captured synchronously, at call time) into `dir`. */
async function snapshotCollection(ctx: Ctx, c: CollectionState, dir: string, date: Date) {
  const { env } = ctx;
  const content = localContent(env, c);
  const name = collectionSnapshotName(c.name, env.peerId, date);
  const meta = snapshotMeta(env, c.name); // the bulk data as it is now
  const tmp = await tempFile(env.tmpDir, 'snapshot');
  try {
    const written = await writeCollectionSnapshot(tmp, content, meta);
    const target = join(dir, name);
    await storeSnapshot(tmp, target, written.sha256);
    return { name, path: target };
  } finally {
    await rm(tmp, { force: true });
  }
}

const collectionDir = (ctx: Ctx, c: CollectionState) => snapshotStoreDir(ctx.env, c.name);

async function upload(ctx: Ctx): Promise<void> {
  const { env, query, req } = ctx;
  const name = ctx.params.name!;
  let wait: boolean;
  let priority: string | null;
  let checksum: string | null;
  try {
    checkCollectionName(name);
    wait = boolParam(query, 'wait', true);
    priority = checkPriority(query.priority, 'query parameters');
    checksum = checkChecksum(query.checksum, 'query parameters');
  } catch (e) {
    await drain(req);
    throw e;
  }
  const main = ctx.faults.main;
  const spooled = await spoolUpload(ctx, main?.kind === 'reset' ? (main.afterBytes ?? 0) : undefined);
  let dest: string;
  try {
    if (checksum && !hashesEqual(spooled.sha256, checksum)) {
      throw new HttpError(400, `Checksum mismatch: expected ${spooled.sha256}, actual ${checksum}`);
    }
    const dir = join(env.snapshotsDir, name);
    await mkdir(dir, { recursive: true });
    dest = join(dir, sanitizeFilename(spooled.filename, randomUUID()));
    await rename(spooled.path, dest);
  } finally {
    await rm(spooled.path, { force: true });
  }
  env.recoveries.push({
    source: 'upload',
    collection: name,
    priority,
    checksum,
    wait,
    location: spooled.filename ?? '',
  });
  await finishMutation(ctx, wait, () => recoverFromFile(env, name, dest));
}

async function recover(ctx: Ctx): Promise<void> {
  const { env } = ctx;
  const name = ctx.params.name!;
  const wait = boolParam(ctx.query, 'wait', true);
  const body = await readJson(ctx.req);
  if (typeof body.location !== 'string') throw formatError('JSON body', 'missing field `location`');
  const priority = checkPriority(body.priority, 'JSON body');
  const checksum = checkChecksum(body.checksum, 'JSON body');
  const apiKey = typeof body.api_key === 'string' ? body.api_key : null;
  checkCollectionName(name);
  const location = body.location;
  env.recoveries.push({ source: 'recover', collection: name, priority, checksum, wait, location });
  await finishMutation(ctx, wait, async () => {
    const loc = await resolveLocation(env, location, apiKey);
    try {
      if (checksum) {
        const actual = await hashFile(loc.path);
        if (!hashesEqual(actual, checksum)) {
          throw new HttpError(
            400,
            `Wrong input: Snapshot checksum mismatch: expected ${checksum}, got ${actual}`,
          );
        }
      }
      return await recoverFromFile(env, name, loc.path);
    } finally {
      if (loc.temp) await rm(loc.path, { force: true });
    }
  });
}

async function createFull(ctx: Ctx): Promise<void> {
  const { env } = ctx;
  const wait = boolParam(ctx.query, 'wait', true);
  const date = new Date();
  const collections = [...env.store.collections.values()];
  const aliases = Object.fromEntries(env.store.aliases);
  const work = async () => {
    const dir = await tempFile(env.tmpDir, 'full');
    await mkdir(dir, { recursive: true });
    try {
      const files: { name: string; path: string; collection: string }[] = [];
      for (const c of collections)
        files.push({ ...(await snapshotCollection(ctx, c, dir, date)), collection: c.name });
      const tmp = join(dir, 'full.tar');
      const written = await writeFullSnapshot(tmp, files, aliases, env.hasher.hashFile);
      const name = fullSnapshotName(date);
      await storeSnapshot(tmp, join(snapshotStoreDir(env), name), written.sha256);
      return describe(join(snapshotStoreDir(env), name), name);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  await finishMutation(ctx, wait, work, (d) => reported(ctx, d));
}

/** Routes of this module. */
export const snapshotRoutes: Route[] = [
  {
    method: 'POST',
    pattern: '/collections/{name}/snapshots',
    op: 'create-snapshot',
    write: true,
    handler: async (ctx) => {
      const wait = boolParam(ctx.query, 'wait', true);
      const c = ctx.env.store.get(ctx.params.name!);
      const job = snapshotCollection(ctx, c, collectionDir(ctx, c), new Date());
      await finishMutation(
        ctx,
        wait,
        async () => {
          const { name, path } = await job;
          return describe(path, name);
        },
        (d) => reported(ctx, d),
      );
    },
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/snapshots',
    op: 'list-snapshots',
    write: false,
    handler: async (ctx) => {
      const c = ctx.env.store.get(ctx.params.name!);
      const list = await listSnapshots(collectionDir(ctx, c));
      sendOk(
        ctx.res,
        ctx.start,
        list.map((d) => reported(ctx, d)),
      );
    },
  },
  {
    method: 'POST',
    pattern: '/collections/{name}/snapshots/upload',
    op: 'upload-snapshot',
    write: true,
    handler: upload,
  },
  {
    method: 'PUT',
    pattern: '/collections/{name}/snapshots/recover',
    op: 'recover-snapshot',
    write: true,
    handler: recover,
  },
  ...snapshotFileRoutes(
    '/collections/{name}/snapshots/{snapshot}',
    { download: 'download-snapshot', remove: 'delete-snapshot' },
    (ctx) => collectionDir(ctx, ctx.env.store.get(ctx.params.name!)),
  ),
  { method: 'POST', pattern: '/snapshots', op: 'create-full-snapshot', write: true, handler: createFull },
  {
    method: 'GET',
    pattern: '/snapshots',
    op: 'list-full-snapshots',
    write: false,
    handler: async (ctx) => {
      const list = await listSnapshots(snapshotStoreDir(ctx.env));
      sendOk(
        ctx.res,
        ctx.start,
        list.map((d) => reported(ctx, d)),
      );
    },
  },
  ...snapshotFileRoutes(
    '/snapshots/{snapshot}',
    { download: 'download-full-snapshot', remove: 'delete-full-snapshot' },
    (ctx) => snapshotStoreDir(ctx.env),
  ),
];
