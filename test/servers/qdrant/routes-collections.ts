/**
 * Service, collection, alias, shard-key and point routes.
 */
import { shardOf } from './cluster.js';
import { type Ctx, finishMutation, type Route } from './context.js';
import { collectionStatus, pointsWritten, visible, visibleCount } from './deferred.js';
import {
  badRequest,
  boolParam,
  formatError,
  notFound,
  readJson,
  sendOk,
  sendText,
  validationError,
} from './http-util.js';
import { payloadSchemaInfo } from './payload-index.js';
import { compareIds, idKey, matchesFilter, parseId, parseUpsert, record } from './points.js';
import { type CollectionState, configFromCreate } from './store.js';
import { checkCount, checkScroll } from './strict-mode.js';

type Json = Record<string, unknown>;

/** CollectionInfo for GET /collections/{name}. */
export function collectionInfo(c: CollectionState): Json {
  const shards = (c.config.params as Json).shard_number as number;
  return {
    status: collectionStatus(c),
    optimizer_status: 'ok',
    indexed_vectors_count: 0,
    points_count: visibleCount(c),
    segments_count: 2 * shards,
    config: c.config,
    payload_schema: payloadSchemaInfo(
      c,
      [...c.points.values()].filter((p) => visible(c, p)),
    ),
  };
}

function clusterInfo(ctx: Ctx, c: CollectionState): Json {
  const member = ctx.env.cluster;
  if (member) return member.cluster.collectionInfo(c, member.peerId);
  const params = c.config.params as Json;
  const points = [...c.points.values()];
  let local: Json[];
  if (params.sharding_method === 'custom') {
    local = c.shardKeys.map((k, i) => ({
      shard_id: i + 1,
      shard_key: k,
      points_count: points.filter((p) => p.shard_key === k).length,
      state: 'Active',
    }));
  } else {
    const n = params.shard_number as number;
    local = Array.from({ length: n }, (_, i) => ({
      shard_id: i,
      points_count: points.filter((p) => shardOf(idKey(p.id), n) === i).length,
      state: 'Active',
    }));
  }
  return {
    peer_id: ctx.env.peerId,
    shard_count: local.length,
    local_shards: local,
    remote_shards: [],
    shard_transfers: [],
  };
}

function limitOf(v: unknown, def: number): number {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw formatError('JSON body', 'limit: expected usize');
  if (v < 1) throw validationError('JSON body', 'limit: value 0 invalid, must be 1 or larger');
  return v;
}

const text = (body: string) => async (ctx: Ctx) => sendText(ctx.res, 200, body);

/** Routes of this module (order matters only for identical templates). */
export const collectionRoutes: Route[] = [
  {
    method: 'GET',
    pattern: '/',
    op: 'root',
    write: false,
    handler: async (ctx) => {
      const body = {
        title: 'qdrant - vector search engine',
        version: ctx.env.version,
        commit: 'qnb-test-server',
      };
      sendJsonPlain(ctx, body);
    },
  },
  { method: 'GET', pattern: '/healthz', op: 'root', write: false, handler: text('healthz check passed') },
  { method: 'GET', pattern: '/livez', op: 'root', write: false, handler: text('healthz check passed') },
  { method: 'GET', pattern: '/readyz', op: 'root', write: false, handler: text('all shards are ready') },
  {
    method: 'GET',
    pattern: '/cluster',
    op: 'cluster',
    write: false,
    handler: async (ctx) => {
      const member = ctx.env.cluster;
      sendOk(ctx.res, ctx.start, member ? member.cluster.status(member.peerId) : { status: 'disabled' });
    },
  },
  {
    method: 'GET',
    pattern: '/collections',
    op: 'list-collections',
    write: false,
    handler: async (ctx) => {
      const collections = [...ctx.env.store.collections.keys()].map((name) => ({ name }));
      sendOk(ctx.res, ctx.start, { collections });
    },
  },
  {
    method: 'POST',
    pattern: '/collections/aliases',
    op: 'aliases',
    write: true,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      await finishMutation(ctx, true, async () => {
        ctx.env.store.updateAliases(body.actions);
        return true;
      });
    },
  },
  {
    method: 'GET',
    pattern: '/aliases',
    op: 'aliases',
    write: false,
    handler: async (ctx) => sendOk(ctx.res, ctx.start, { aliases: ctx.env.store.aliasList() }),
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/aliases',
    op: 'aliases',
    write: false,
    handler: async (ctx) => {
      const c = ctx.env.store.get(ctx.params.name!);
      sendOk(ctx.res, ctx.start, { aliases: ctx.env.store.aliasList(c.name) });
    },
  },
  {
    method: 'PUT',
    pattern: '/collections/{name}',
    op: 'create-collection',
    write: true,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      const config = configFromCreate(body);
      await finishMutation(ctx, true, async () => {
        ctx.env.store.create(ctx.params.name!, config);
        return true;
      });
    },
  },
  {
    method: 'GET',
    pattern: '/collections/{name}',
    op: 'get-collection',
    write: false,
    handler: async (ctx) => sendOk(ctx.res, ctx.start, collectionInfo(ctx.env.store.get(ctx.params.name!))),
  },
  {
    method: 'DELETE',
    pattern: '/collections/{name}',
    op: 'delete-collection',
    write: true,
    handler: async (ctx) => finishMutation(ctx, true, async () => ctx.env.store.delete(ctx.params.name!)),
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/exists',
    op: 'get-collection',
    write: false,
    handler: async (ctx) =>
      sendOk(ctx.res, ctx.start, { exists: ctx.env.store.find(ctx.params.name!) !== undefined }),
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/cluster',
    op: 'cluster',
    write: false,
    handler: async (ctx) => sendOk(ctx.res, ctx.start, clusterInfo(ctx, ctx.env.store.get(ctx.params.name!))),
  },
  {
    method: 'PUT',
    pattern: '/collections/{name}/shards',
    op: 'create-collection',
    write: true,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      const c = ctx.env.store.get(ctx.params.name!);
      const key = body.shard_key;
      if (typeof key !== 'string' && typeof key !== 'number')
        throw formatError('JSON body', 'missing field `shard_key`');
      if ((c.config.params as Json).sharding_method !== 'custom') {
        throw badRequest('Shard key can only be created for collections with custom sharding');
      }
      if (c.shardKeys.includes(key)) throw badRequest(`Sharding key ${key} already exists`);
      await finishMutation(ctx, true, async () => {
        c.shardKeys.push(key);
        return true;
      });
    },
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/shards',
    op: 'get-collection',
    write: false,
    handler: async (ctx) => {
      const c = ctx.env.store.get(ctx.params.name!);
      sendOk(ctx.res, ctx.start, { shard_keys: c.shardKeys.map((key) => ({ key })) });
    },
  },
  {
    method: 'PUT',
    pattern: '/collections/{name}/points',
    op: 'upsert',
    write: true,
    handler: async (ctx) => {
      const wait = boolParam(ctx.query, 'wait', false);
      const body = await readJson(ctx.req);
      const c = ctx.env.store.get(ctx.params.name!);
      const points = parseUpsert(c.config, body);
      await finishMutation(ctx, true, async () => {
        const operation_id = ctx.env.store.upsert(c, points);
        pointsWritten(
          ctx.env,
          c,
          points.map((p) => idKey(p.id)),
        );
        return { operation_id, status: wait ? 'completed' : 'acknowledged' };
      });
    },
  },
  {
    method: 'POST',
    pattern: '/collections/{name}/points/count',
    op: 'count',
    write: false,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      const c = ctx.env.store.get(ctx.params.name!);
      checkCount(c, body, ctx.query);
      let count = 0;
      for (const p of c.points.values()) if (visible(c, p) && matchesFilter(p, body.filter)) count++;
      sendOk(ctx.res, ctx.start, { count });
    },
  },
  {
    method: 'POST',
    pattern: '/collections/{name}/points/scroll',
    op: 'scroll',
    write: false,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      const c = ctx.env.store.get(ctx.params.name!);
      if (body.order_by !== undefined && body.order_by !== null) {
        throw badRequest('order_by is not supported by the qnb test server');
      }
      const limit = limitOf(body.limit, 10);
      checkScroll(c, limit, ctx.query);
      const offset = body.offset === undefined || body.offset === null ? undefined : parseId(body.offset);
      const page: Json[] = [];
      let next: unknown = null;
      for (const p of ctx.env.store.sorted(c)) {
        if (offset !== undefined && compareIds(p.id, offset) < 0) continue;
        if (!visible(c, p) || !matchesFilter(p, body.filter)) continue;
        if (page.length === limit) {
          next = p.id;
          break;
        }
        page.push(record(c.config, p, body.with_payload ?? true, body.with_vector ?? false));
      }
      sendOk(ctx.res, ctx.start, { points: page, next_page_offset: next });
    },
  },
  {
    method: 'POST',
    pattern: '/collections/{name}/points',
    op: 'retrieve',
    write: false,
    handler: async (ctx) => {
      const body = await readJson(ctx.req);
      const c = ctx.env.store.get(ctx.params.name!);
      if (!Array.isArray(body.ids)) throw formatError('JSON body', 'missing field `ids`');
      const seen = new Set<string>();
      const out: Json[] = [];
      for (const raw of body.ids) {
        const key = idKey(parseId(raw));
        const p = c.points.get(key);
        if (!p || seen.has(key) || !visible(c, p)) continue;
        seen.add(key);
        out.push(record(c.config, p, body.with_payload ?? true, body.with_vector ?? false));
      }
      sendOk(ctx.res, ctx.start, out);
    },
  },
  {
    method: 'GET',
    pattern: '/collections/{name}/points/{id}',
    op: 'retrieve',
    write: false,
    handler: async (ctx) => {
      const c = ctx.env.store.get(ctx.params.name!);
      const raw = ctx.params.id!;
      const id = parseId(/^\d+$/.test(raw) ? Number(raw) : raw);
      const p = c.points.get(idKey(id));
      if (!p) throw notFound(`No point with id ${raw} found`);
      sendOk(ctx.res, ctx.start, record(c.config, p, true, true));
    },
  },
];

/** GET / answers a bare VersionInfo object (no envelope), like Qdrant. */
function sendJsonPlain(ctx: Ctx, body: Json): void {
  const buf = Buffer.from(JSON.stringify(body));
  ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': buf.length });
  ctx.res.end(buf);
}
