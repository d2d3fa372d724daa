/**
 * Payload indexes across a backup and a restore. A collection snapshot carries the collection's
 * payload index schema (`payload_index.json`) and Qdrant re-creates those indexes when it
 * recovers the snapshot into a missing collection; a shard snapshot does not carry it
 * (lib/collection/src/collection/snapshots.rs), so a cluster backup (shard snapshots) must
 * record the schema and the restore must re-create every index itself. The restore check then
 * compares the restored collection's schema with the record, like the settings (qdrant-settings.ts).
 */
import type { ArtifactRecord } from '../../core/manifest.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';
import type { PayloadFieldSchema } from './qdrant-api-types.js';

type Json = Record<string, unknown>;

/**
 * What a backup records of CollectionInfo.payload_schema (`details.payloadSchema`): field → the
 * `field_schema` that re-creates the index (its params when Qdrant reports them, else its data
 * type). Undefined when the server reported no schema.
 */
export function recordPayloadSchema(info: Json): Record<string, PayloadFieldSchema> | undefined {
  const schema = info.payload_schema;
  if (!schema || typeof schema !== 'object') return undefined;
  const out: Record<string, PayloadFieldSchema> = {};
  for (const [field, index] of Object.entries(schema as Record<string, Json | null>)) {
    const params = index?.params;
    if (params && typeof params === 'object') out[field] = params as Json;
    else if (typeof index?.data_type === 'string') out[field] = index.data_type;
  }
  return out;
}

/** The recorded schema of a backup; undefined for backups made before qnb recorded it. */
export function recordedPayloadSchema(a: ArtifactRecord): Record<string, PayloadFieldSchema> | undefined {
  const s = a.details?.payloadSchema;
  return s && typeof s === 'object' && !Array.isArray(s)
    ? (s as Record<string, PayloadFieldSchema>)
    : undefined;
}

/** The data type of a recorded `field_schema`. */
const typeOf = (schema: unknown): string =>
  typeof schema === 'string' ? schema : String((schema as Json | null)?.type);

/**
 * Re-creates every recorded payload index on `target` (`wait=true`, one at a time), for a
 * collection qnb created itself: cheap while it is still empty. Returns the fields.
 */
export async function recreatePayloadIndexes(
  api: QdrantApi,
  target: string,
  recorded: Record<string, PayloadFieldSchema> | undefined,
  ctx: TargetContext,
): Promise<string[]> {
  const fields = Object.entries(recorded ?? {});
  for (const [field, schema] of fields) await api.createPayloadIndex(target, field, schema);
  if (fields.length) {
    ctx.reporter.emit({
      type: 'step',
      target: 'qdrant',
      name: target,
      message: `payload indexes re-created: ${fields.map(([f, s]) => `${f} (${typeOf(s)})`).join(', ')}`,
    });
  }
  return fields.map(([f]) => f);
}

/**
 * How the restored collection's payload schema (CollectionInfo.payload_schema) compares with the
 * record: `missing` lines (`payload_schema.FIELD: keyword → no index`) for each recorded index
 * that is absent or has another data type, and `present` (`FIELD (keyword)`) for the others.
 * Both empty when nothing was recorded. Indexes the restored collection has beyond the record
 * are not compared.
 */
export function payloadSchemaDiff(
  recorded: Record<string, PayloadFieldSchema> | undefined,
  now: unknown,
): { missing: string[]; present: string[] } {
  const have = (now && typeof now === 'object' ? now : {}) as Record<string, Json | null | undefined>;
  const missing: string[] = [];
  const present: string[] = [];
  for (const [field, schema] of Object.entries(recorded ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const is = have[field]?.data_type;
    if (is === typeOf(schema)) present.push(`${field} (${is})`);
    else
      missing.push(
        `payload_schema.${field}: ${typeOf(schema)} → ${typeof is === 'string' ? is : 'no index'}`,
      );
  }
  return { missing, present };
}
