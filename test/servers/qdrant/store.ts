/**
 * In-memory state: collections (config + points in a Map), aliases, shard keys.
 */
import { alreadyExists, badRequest, formatError, notFound, validationError } from './http-util.js';
import { compareIds, idKey } from './points.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

/** One collection. */
export interface CollectionState {
  name: string;
  /** CollectionConfig as returned in CollectionInfo.config. */
  config: Json;
  points: Map<string, StoredPoint>;
  shardKeys: (string | number)[];
  /** Payload index schema (payload-index.ts): field -> field_schema as created. */
  payloadSchema: Json;
  operationId: number;
  sorted?: StoredPoint[];
}

const DISTANCES = ['Cosine', 'Euclid', 'Dot', 'Manhattan'];
const VECTOR_FIELDS = [
  'size',
  'distance',
  'hnsw_config',
  'quantization_config',
  'on_disk',
  'memory',
  'datatype',
];

/** Qdrant's collection name rule (lib/storage validate_collection_name). */
export function checkCollectionName(name: string): void {
  if (name.length < 1 || name.length > 255) {
    throw validationError('path parameters', 'name: length must be between 1 and 255');
  }
  const bad = [...'<>:"/\\|?*\0\u001f'].find((c) => name.includes(c));
  if (bad !== undefined || name === '.' || name === '..') {
    throw validationError('path parameters', `name: collection name cannot contain "${bad ?? name}" char`);
  }
}

function vectorParams(name: string, v: unknown): Json {
  const p = v as Json;
  if (!p || typeof p !== 'object')
    throw formatError('JSON body', `vectors${name}: invalid type, expected a map`);
  if (typeof p.distance !== 'string' || !DISTANCES.includes(p.distance)) {
    throw formatError(
      'JSON body',
      `vectors${name}: unknown variant \`${String(p.distance)}\`, expected one of \`Cosine\`, \`Euclid\`, \`Dot\`, \`Manhattan\``,
    );
  }
  if (typeof p.size !== 'number' || !Number.isInteger(p.size) || p.size < 1) {
    throw validationError(
      'JSON body',
      `vectors${name}.size: value ${String(p.size)} invalid, must be 1 or larger`,
    );
  }
  const out: Json = {};
  for (const k of [...VECTOR_FIELDS, 'multivector_config'])
    if (p[k] !== undefined && p[k] !== null) out[k] = p[k];
  return out;
}

/** Build a CollectionConfig (with Qdrant's defaults) from a CreateCollection body. */
export function configFromCreate(body: Json): Json {
  let vectors: Json = {};
  const v = body.vectors as Json | undefined;
  if (v && typeof v === 'object') {
    if ('size' in v || 'distance' in v) vectors = vectorParams('', v);
    else for (const [k, p] of Object.entries(v)) vectors[k] = vectorParams(`.${k}`, p);
  }
  const shardNumber = (body.shard_number as number | undefined) ?? 1;
  if (!Number.isInteger(shardNumber) || shardNumber < 1) {
    throw validationError('JSON body', 'shard_number: value must be 1 or larger');
  }
  const params: Json = { vectors, shard_number: shardNumber };
  const sm = body.sharding_method;
  if (sm !== undefined && sm !== null) {
    if (sm !== 'auto' && sm !== 'custom') {
      throw formatError('JSON body', `sharding_method: unknown variant \`${String(sm)}\``);
    }
    params.sharding_method = sm;
  }
  params.replication_factor = body.replication_factor ?? 1;
  params.write_consistency_factor = body.write_consistency_factor ?? 1;
  params.on_disk_payload = body.on_disk_payload ?? true;
  const sparse = body.sparse_vectors as Json | undefined | null;
  if (sparse && Object.keys(sparse).length > 0) params.sparse_vectors = sparse;
  const config: Json = {
    params,
    hnsw_config: {
      m: 16,
      ef_construct: 100,
      full_scan_threshold: 10000,
      max_indexing_threads: 0,
      on_disk: false,
    },
    optimizer_config: {
      deleted_threshold: 0.2,
      vacuum_min_vector_number: 1000,
      default_segment_number: 0,
      max_segment_size: null,
      memmap_threshold: null,
      indexing_threshold: 10000,
      flush_interval_sec: 5,
      max_optimization_threads: null,
    },
    wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0, wal_retain_closed: 1 },
    quantization_config: body.quantization_config ?? null,
    strict_mode_config: { enabled: false },
  };
  const merge = (key: string, diff: unknown) => {
    if (diff && typeof diff === 'object') Object.assign(config[key] as Json, diff);
  };
  merge('hnsw_config', body.hnsw_config);
  merge('optimizer_config', body.optimizers_config);
  merge('wal_config', body.wal_config);
  merge('strict_mode_config', body.strict_mode_config);
  if (body.metadata && typeof body.metadata === 'object') config.metadata = body.metadata;
  return config;
}

/** All collections and aliases of the server. */
export class Store {
  readonly collections = new Map<string, CollectionState>();
  readonly aliases = new Map<string, string>();

  /** Resolve a collection name or alias; 404 like Qdrant if neither exists. */
  get(nameOrAlias: string): CollectionState {
    const c = this.find(nameOrAlias);
    if (!c) throw notFound(`Collection \`${nameOrAlias}\` doesn't exist!`);
    return c;
  }

  /** Resolve a name or alias without throwing. */
  find(nameOrAlias: string): CollectionState | undefined {
    const direct = this.collections.get(nameOrAlias);
    if (direct) return direct;
    const target = this.aliases.get(nameOrAlias);
    return target === undefined ? undefined : this.collections.get(target);
  }

  /**
   * Create a collection from a config (and, for a snapshot recovery, the snapshot's payload
   * index schema); 409 if it (or an alias of that name) exists.
   */
  create(
    name: string,
    config: Json,
    shardKeys: (string | number)[] = [],
    payloadSchema: Json = {},
  ): CollectionState {
    checkCollectionName(name);
    if (this.collections.has(name)) throw alreadyExists(`Collection \`${name}\` already exists!`);
    if (this.aliases.has(name)) throw alreadyExists(`Alias \`${name}\` already exists!`);
    const c: CollectionState = {
      name,
      config,
      points: new Map(),
      shardKeys: [...shardKeys],
      payloadSchema: structuredClone(payloadSchema),
      operationId: 0,
    };
    this.collections.set(name, c);
    return c;
  }

  /** Delete a collection and its aliases; false if it did not exist. */
  delete(name: string): boolean {
    if (!this.collections.delete(name)) return false;
    for (const [alias, target] of this.aliases) if (target === name) this.aliases.delete(alias);
    return true;
  }

  /** Upsert points (replacing whole points, like Qdrant's upsert). */
  upsert(c: CollectionState, points: StoredPoint[]): number {
    const custom = (c.config.params as Json).sharding_method === 'custom';
    for (const p of points) {
      if (custom) {
        if (p.shard_key === undefined) throw badRequest('Shard key not specified');
        if (!c.shardKeys.includes(p.shard_key)) throw badRequest(`Shard key ${p.shard_key} not found`);
      }
    }
    for (const p of points) c.points.set(idKey(p.id), p);
    c.sorted = undefined;
    c.operationId += 1;
    return c.operationId;
  }

  /** Points in Qdrant's id order (cached until the next change). */
  sorted(c: CollectionState): StoredPoint[] {
    if (!c.sorted) c.sorted = [...c.points.values()].sort((a, b) => compareIds(a.id, b.id));
    return c.sorted;
  }

  /** Replace a collection's config, shard keys and points (snapshot recovery; its payload schema stays). */
  replace(c: CollectionState, config: Json, shardKeys: (string | number)[], points: StoredPoint[]): void {
    c.config = config;
    c.shardKeys = [...shardKeys];
    c.points = new Map(points.map((p) => [idKey(p.id), p]));
    c.sorted = undefined;
  }

  /** Apply ChangeAliasesOperation actions atomically. */
  updateAliases(actions: unknown): void {
    if (!Array.isArray(actions)) throw formatError('JSON body', 'missing field `actions`');
    const next = new Map(this.aliases);
    for (const a of actions as Json[]) {
      const create = a?.create_alias as Json | undefined;
      const del = a?.delete_alias as Json | undefined;
      const rename = a?.rename_alias as Json | undefined;
      if (create) {
        const alias = String(create.alias_name);
        const target = String(create.collection_name);
        if (!this.collections.has(target)) throw notFound(`Collection \`${target}\` doesn't exist!`);
        if (this.collections.has(alias)) throw alreadyExists(`Collection \`${alias}\` already exists!`);
        next.set(alias, target);
      } else if (del) {
        const alias = String(del.alias_name);
        if (!next.delete(alias)) throw notFound(`Alias ${alias} does not exists!`);
      } else if (rename) {
        const from = String(rename.old_alias_name);
        const to = String(rename.new_alias_name);
        const target = next.get(from);
        if (target === undefined) throw notFound(`Alias ${from} does not exists!`);
        next.delete(from);
        next.set(to, target);
      } else {
        throw formatError(
          'JSON body',
          'actions: data did not match any variant of untagged enum AliasOperations',
        );
      }
    }
    this.aliases.clear();
    for (const [k, v] of next) this.aliases.set(k, v);
  }

  /** AliasDescription list, optionally for one collection. */
  aliasList(collection?: string): { alias_name: string; collection_name: string }[] {
    return [...this.aliases]
      .filter(([, t]) => collection === undefined || t === collection)
      .map(([alias_name, collection_name]) => ({ alias_name, collection_name }));
  }
}
