/**
 * The snapshot file format: a plain (uncompressed) POSIX tar, built and read with tar-stream,
 * always streamed (padding and nested snapshots are never held in memory).
 *
 * Collection snapshot entries: `version.info`, `config.json` (CollectionConfig),
 * `collection.json` (name, peer, shard keys, points_count), `payload_index.json` (collection
 * snapshots only, `{"schema":{field: field_schema}}` like Qdrant's PayloadIndexSchema; shard
 * snapshots have none), `shard_key_mapping.json` (custom sharding only), `points.jsonl` (one point per line, exact),
 * optional `padding.bin` (test-only bulk data, copied from the collection's segment-data file).
 * Full snapshot entries: every collection snapshot file plus `config.json`
 * `{"collections_mapping":{…},"collections_aliases":{…}}`.
 * Like Qdrant, the archive is written first and its sha256 computed in a second pass over the
 * file (`hashFile`, see segment-data.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import tar from 'tar-stream';
import type { Env } from './context.js';
import { badInput } from './http-util.js';
import { parseId } from './points.js';
import type { SegmentData } from './segment-data.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

/** Marker in collection.json. */
export const FORMAT = 'qnb-qdrant-test-server/1';

/** What a collection snapshot holds. */
export interface SnapshotContent {
  collection: string;
  config: Json;
  shardKeys: (string | number)[];
  points: StoredPoint[];
  /** Cluster mode: the shard ids this snapshot holds data of (absent: every shard). */
  shards?: number[];
  /** The payload index schema (collection snapshots only; absent in shard snapshots). */
  payloadSchema?: Json;
}

/** Result of writing a file: size and sha256 hex, computed inline. */
export interface Written {
  size: number;
  sha256: string;
}

/** sha256 hex of a finished file (Qdrant's hash_file pass). */
export type HashFile = (path: string) => Promise<string>;

async function packTo(
  dest: string,
  hashFile: HashFile,
  fill: (pack: tar.Pack) => Promise<void>,
): Promise<Written> {
  const pack = tar.pack();
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const done = pipeline(pack, counter, createWriteStream(dest, { mode: 0o644 }));
  try {
    await fill(pack);
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
  }
  await done;
  return { size, sha256: await hashFile(dest) };
}

function bufferEntry(pack: tar.Pack, name: string, data: Buffer | string): Promise<void> {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return new Promise((resolve, reject) => {
    pack.entry({ name, size: buf.length, mode: 0o644, mtime: new Date() }, buf, (err) =>
      err ? reject(err) : resolve(),
    );
  });
}

async function streamEntry(pack: tar.Pack, name: string, size: number, source: AsyncIterable<Buffer>) {
  let entry!: { write(chunk: Buffer): boolean; end(): unknown; once(ev: 'drain', fn: () => void): unknown };
  const finished = new Promise<void>((resolve, reject) => {
    entry = pack.entry({ name, size, mode: 0o644, mtime: new Date() }, (err) =>
      err ? reject(err) : resolve(),
    ) as unknown as typeof entry;
  });
  finished.catch(() => {});
  for await (const chunk of source) {
    if (!entry.write(chunk))
      await Promise.race([new Promise((r) => entry.once('drain', () => r(null))), finished]);
  }
  entry.end();
  await finished;
}

/** Copies a file into the archive as `name`, 1 MiB at a time (a segment file into the tar). */
async function fileEntry(pack: tar.Pack, name: string, path: string): Promise<void> {
  const { size } = await stat(path);
  await streamEntry(pack, name, size, createReadStream(path, { highWaterMark: 1024 * 1024 }));
}

/** What a collection snapshot is written with besides its content. */
export interface SnapshotMeta {
  peerId: number;
  version: string;
  /** The collection's bulk data, archived as `padding.bin` (segment-data.ts). */
  padding?: SegmentData | undefined;
  hashFile: HashFile;
}

/** The meta of a snapshot of `collection` taken now on the server of `env`. */
export function snapshotMeta(
  env: Pick<Env, 'peerId' | 'version' | 'padding' | 'hasher'>,
  collection: string,
): SnapshotMeta {
  return {
    peerId: env.peerId,
    version: env.version,
    padding: env.padding.get(collection),
    hashFile: env.hasher.hashFile,
  };
}

/** Write a collection snapshot tar to `dest`. */
export async function writeCollectionSnapshot(
  dest: string,
  content: SnapshotContent,
  meta: SnapshotMeta,
): Promise<Written> {
  return packTo(dest, meta.hashFile, async (pack) => {
    const { config, points, shardKeys } = content;
    const info = {
      format: FORMAT,
      collection: content.collection,
      peer_id: meta.peerId,
      server_version: meta.version,
      created_at: new Date().toISOString(),
      sharding_method: (config.params as Json).sharding_method ?? 'auto',
      shard_keys: shardKeys,
      points_count: points.length,
      ...(content.shards ? { shards: content.shards } : {}),
    };
    await bufferEntry(pack, 'version.info', '0.4.2');
    await bufferEntry(pack, 'config.json', JSON.stringify(config, null, 2));
    await bufferEntry(pack, 'collection.json', JSON.stringify(info, null, 2));
    if (content.payloadSchema)
      await bufferEntry(pack, 'payload_index.json', JSON.stringify({ schema: content.payloadSchema }));
    if (info.sharding_method === 'custom') {
      const mapping = Object.fromEntries(shardKeys.map((k, i) => [String(k), [i + 1]]));
      await bufferEntry(pack, 'shard_key_mapping.json', JSON.stringify(mapping));
    }
    const lines = Buffer.from(points.map((p) => `${JSON.stringify(p)}\n`).join(''));
    await bufferEntry(pack, 'points.jsonl', lines);
    if (meta.padding) await fileEntry(pack, 'padding.bin', await meta.padding.file);
  });
}

/** Write a full-storage snapshot: the given collection snapshot files plus config.json. */
export async function writeFullSnapshot(
  dest: string,
  files: { name: string; path: string; collection: string }[],
  aliases: Record<string, string>,
  hashFile: HashFile,
): Promise<Written> {
  return packTo(dest, hashFile, async (pack) => {
    for (const f of files) await fileEntry(pack, f.name, f.path);
    const config = {
      collections_mapping: Object.fromEntries(files.map((f) => [f.collection, f.name])),
      collections_aliases: aliases,
    };
    await bufferEntry(pack, 'config.json', JSON.stringify(config));
  });
}

async function collect(entry: AsyncIterable<Buffer>, limit = 1024 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of entry) {
    size += c.length;
    if (size > limit) throw badInput('snapshot entry too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** Read a collection snapshot file; 400 if it is not a valid snapshot of this server. */
export async function readCollectionSnapshot(path: string): Promise<SnapshotContent> {
  const extract = tar.extract();
  const source = createReadStream(path);
  source.on('error', (e) => extract.destroy(e));
  source.pipe(extract);
  const files = new Map<string, Buffer>();
  try {
    for await (const entry of extract) {
      const name = entry.header.name.replace(/^\.\//, '');
      if (['config.json', 'collection.json', 'points.jsonl', 'payload_index.json'].includes(name))
        files.set(name, await collect(entry as AsyncIterable<Buffer>));
      else for await (const _ of entry) void _;
    }
  } catch (e) {
    source.destroy();
    throw badInput(`Invalid snapshot archive: failed to iterate over archive (${(e as Error).message})`);
  }
  for (const need of ['config.json', 'collection.json', 'points.jsonl']) {
    if (!files.has(need)) throw badInput(`Invalid snapshot archive: missing ${need}`);
  }
  let info: Json;
  let config: Json;
  let payloadSchema: Json | undefined;
  const points: StoredPoint[] = [];
  try {
    info = JSON.parse(files.get('collection.json')!.toString('utf8'));
    config = JSON.parse(files.get('config.json')!.toString('utf8'));
    const index = files.get('payload_index.json');
    if (index) payloadSchema = (JSON.parse(index.toString('utf8')) as { schema?: Json }).schema ?? {};
    for (const line of files.get('points.jsonl')!.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      const p = JSON.parse(line) as StoredPoint;
      points.push({ ...p, id: parseId(p.id) });
    }
  } catch (e) {
    throw badInput(`Invalid snapshot archive: ${(e as Error).message}`);
  }
  if (info.format !== FORMAT) throw badInput('Invalid snapshot archive: not a qnb test server snapshot');
  if (info.points_count !== points.length) {
    throw badInput(
      `Invalid snapshot archive: expected ${String(info.points_count)} points, found ${points.length}`,
    );
  }
  return {
    collection: String(info.collection),
    config,
    shardKeys: (info.shard_keys as (string | number)[]) ?? [],
    points,
    ...(Array.isArray(info.shards) ? { shards: info.shards as number[] } : {}),
    ...(payloadSchema ? { payloadSchema } : {}),
  };
}
