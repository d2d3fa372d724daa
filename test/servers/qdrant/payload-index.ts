/**
 * Payload indexes (`PUT /collections/{c}/index`, `DELETE /collections/{c}/index/{field}`) and the
 * `payload_schema` of CollectionInfo, like Qdrant's collection-level `PayloadIndexSchema`:
 * - the schema belongs to the collection (one for the whole cluster: every node agrees);
 * - a collection snapshot carries it (`payload_index.json`, snapshot-format.ts) and a recovery
 *   into a MISSING collection re-creates those indexes; a recovery into an existing collection
 *   keeps that collection's own schema (recover.ts);
 * - a shard snapshot does not carry it (routes-shards.ts), so a collection rebuilt from shard
 *   snapshots has no index until the client creates them.
 * Answers: `UpdateResult` `{operation_id, status}` (`completed` with wait=true, else
 * `acknowledged`); CollectionInfo lists `{field: {data_type, params?, points}}`, `params` only
 * for an index created with an object schema (Qdrant's PayloadIndexInfo).
 */
import { type Ctx, finishMutation, type Route } from './context.js';
import { badRequest, boolParam, formatError, readJson } from './http-util.js';
import type { CollectionState } from './store.js';
import type { StoredPoint } from './types.js';

type Json = Record<string, unknown>;

/** PayloadSchemaType. */
export const PAYLOAD_TYPES = ['keyword', 'integer', 'float', 'geo', 'text', 'bool', 'datetime', 'uuid'];

/** The data type of a stored field schema (a type name, or PayloadSchemaParams with `type`). */
export function dataType(schema: unknown): string {
  return typeof schema === 'string' ? schema : String((schema as Json).type);
}

/** Validates a CreateFieldIndex body like Qdrant (400 on a missing or unknown schema). */
export function parseCreateIndex(body: Json): { field: string; schema: string | Json } {
  if (typeof body.field_name !== 'string') throw formatError('JSON body', 'missing field `field_name`');
  const schema = body.field_schema;
  if (schema === undefined || schema === null) {
    throw badRequest("Can't auto-detect field type, please specify `field_schema` in the request");
  }
  const type = typeof schema === 'string' ? schema : (schema as Json | null)?.type;
  if (typeof type !== 'string' || !PAYLOAD_TYPES.includes(type) || Array.isArray(schema)) {
    throw formatError('JSON body', 'data did not match any variant of untagged enum PayloadFieldSchema');
  }
  return { field: body.field_name, schema: structuredClone(schema as string | Json) };
}

function valueAt(payload: Json, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Json)[part] : undefined;
  return v;
}

/** CollectionInfo.payload_schema: each index with the number of points holding the field. */
export function payloadSchemaInfo(c: CollectionState, points: StoredPoint[]): Json {
  const out: Json = {};
  for (const [field, schema] of Object.entries(c.payloadSchema)) {
    const count = points.filter((p) => {
      const v = valueAt(p.payload, field);
      return v !== undefined && v !== null;
    }).length;
    out[field] = {
      data_type: dataType(schema),
      ...(typeof schema === 'object' ? { params: schema } : {}),
      points: count,
    };
  }
  return out;
}

async function update(ctx: Ctx, change: (c: CollectionState) => void): Promise<void> {
  const wait = boolParam(ctx.query, 'wait', false);
  const c = ctx.env.store.get(ctx.params.name!);
  await finishMutation(ctx, true, async () => {
    change(c);
    c.operationId += 1;
    return { operation_id: c.operationId, status: wait ? 'completed' : 'acknowledged' };
  });
}

/** Routes of this module (fault op `create-index`). */
export const indexRoutes: Route[] = [
  {
    method: 'PUT',
    pattern: '/collections/{name}/index',
    op: 'create-index',
    write: true,
    handler: async (ctx) => {
      const { field, schema } = parseCreateIndex(await readJson(ctx.req));
      await update(ctx, (c) => {
        c.payloadSchema[field] = schema;
      });
    },
  },
  {
    method: 'DELETE',
    pattern: '/collections/{name}/index/{field}',
    op: 'create-index',
    write: true,
    handler: (ctx) =>
      update(ctx, (c) => {
        delete c.payloadSchema[ctx.params.field!];
      }),
  },
];
