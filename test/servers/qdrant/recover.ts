/**
 * Snapshot recovery (`PUT …/recover` and `POST …/upload`), following Qdrant's
 * `_do_recover_from_snapshot`: locate the file, check compatibility, replace the data.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { realpath, rm } from 'node:fs/promises';
import { sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { Env } from './context.js';
import { pointsRecovered } from './deferred.js';
import { badInput, badRequest, forbidden, formatError, sleep } from './http-util.js';
import { checkShardsPresent, recoverOnClusterNode } from './routes-shards.js';
import { tempFile } from './snapshot-files.js';
import { readCollectionSnapshot } from './snapshot-format.js';
import { checkCollectionName } from './store.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

/** sha256 hex of a file, streamed. */
export async function hashFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 256 * 1024 }))
    hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Json)
      .filter(([, x]) => x !== undefined && x !== null)
      .sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** Where a recover `location` points: a local file (inside the snapshots dir) or a download. */
export async function resolveLocation(
  env: Env,
  location: string,
  apiKey: string | null,
): Promise<{ path: string; temp: boolean }> {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw formatError('JSON body', `location: relative URL without a base: ${JSON.stringify(location)}`);
  }
  if (url.protocol === 'file:') {
    let path: string;
    try {
      path = fileURLToPath(url);
    } catch {
      throw badRequest('Invalid snapshot URI, file path must be absolute or on localhost');
    }
    if (!existsSync(path)) throw badRequest(`Snapshot file ${JSON.stringify(path)} does not exist`);
    const real = await realpath(path);
    const base = await realpath(env.snapshotsDir);
    if (!real.startsWith(base + sep)) {
      throw forbidden(`Snapshot file ${JSON.stringify(path)} is outside of the snapshots directory`);
    }
    return { path: real, temp: false };
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (apiKey) headers['api-key'] = apiKey;
    let res: Response;
    try {
      res = await fetch(url, { headers });
    } catch (e) {
      throw new Error(`Http request error: ${(e as Error).message}`);
    }
    if (!res.ok || !res.body) {
      await res.body?.cancel();
      throw badInput(`Failed to download snapshot from ${location}: status - ${res.status}`);
    }
    const path = await tempFile(env.tmpDir, 'download');
    try {
      await pipeline(
        Readable.fromWeb(res.body as import('node:stream/web').ReadableStream),
        createWriteStream(path),
      );
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    }
    return { path, temp: true };
  }
  throw badRequest(`URL ${location} with scheme ${url.protocol.replace(/:$/, '')} is not supported`);
}

/**
 * Recover collection `target` (name or alias) from a snapshot file. Missing collections are
 * created from the snapshot config; custom-sharded ones come back empty (no shard keys, #10135).
 * Existing ones must have the same vectors config and shard_number (else 400); only their shard
 * data (points) is replaced: like Qdrant's `_do_recover_from_snapshot`, the existing collection
 * keeps its own HNSW, optimizer, quantization, on-disk and strict-mode settings and its own
 * payload indexes (a missing one gets the snapshot's, payload-index.ts).
 */
export async function recoverFromFile(env: Env, target: string, file: string): Promise<boolean> {
  const content = await readCollectionSnapshot(file);
  checkShardsPresent(env, content);
  if (env.cluster) return recoverOnClusterNode(env, target, content);
  const { store } = env;
  const params = content.config.params as Json;
  const custom = params.sharding_method === 'custom';
  const existing = store.find(target);
  if (!existing) {
    checkCollectionName(target);
    // created first (with the snapshot's payload indexes, if it carries them), recovered after:
    // meanwhile (and after a failed recovery) it is empty
    const c = store.create(target, content.config, [], content.payloadSchema);
    if (env.recoveryDelayMs > 0) await sleep(env.recoveryDelayMs);
    if (!custom) store.replace(c, content.config, [], content.points);
    pointsRecovered(env, c);
    return true;
  }
  const have = existing.config.params as Json;
  if (canonical(have.vectors) !== canonical(params.vectors)) {
    throw badInput(
      `Snapshot is not compatible with existing collection: Collection vectors: ${canonical(have.vectors)} Snapshot Vectors: ${canonical(params.vectors)}`,
    );
  }
  if (have.shard_number !== params.shard_number) {
    throw badInput(
      `Snapshot is not compatible with existing collection: Collection shard number: ${String(have.shard_number)} Snapshot shard number: ${String(params.shard_number)}`,
    );
  }
  const keys = custom ? existing.shardKeys : content.shardKeys;
  const points = custom ? byShardId(content, keys) : content.points;
  if (env.recoveryDelayMs > 0) await sleep(env.recoveryDelayMs);
  store.replace(existing, existing.config, keys, points);
  pointsRecovered(env, existing);
  return true;
}

/**
 * Qdrant recovers an existing collection shard by shard ID (each of the target's shards from the
 * snapshot's shard of the same id), not by shard key: a point of the snapshot's shard N lands in
 * the target's shard N, under whatever key that shard has here, and a shard the target lacks is
 * not recovered. This server numbers the shards of a custom-sharded collection 1, 2, … in the
 * order of their keys (routes-collections.ts), as Qdrant does for keys of one shard each.
 */
function byShardId(
  content: { shardKeys: (string | number)[]; points: StoredPoint[] },
  keys: (string | number)[],
): StoredPoint[] {
  const out: StoredPoint[] = [];
  for (const p of content.points) {
    if (p.shard_key === undefined) continue;
    const id = content.shardKeys.indexOf(p.shard_key) + 1;
    const key = keys[id - 1];
    if (id > 0 && key !== undefined) out.push({ ...p, shard_key: key });
  }
  return out;
}
