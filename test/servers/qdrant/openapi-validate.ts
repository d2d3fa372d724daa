/**
 * Validate HTTP responses against Qdrant's OpenAPI 3.0 spec (v1.19.0, vendored verbatim and
 * gzipped as `qdrant-openapi.json.gz` beside this file; override with QDRANT_OPENAPI_SPEC) with ajv + ajv-formats. OpenAPI's `nullable` is converted to JSON-schema type unions, the
 * spec's numeric formats (uint64, float, …) are registered as custom formats.
 *
 * Documented exceptions (behaviour of real Qdrant that the spec does not describe):
 * - 401/403 plain-text bodies of the auth middleware;
 * - 206 (range) answers of binary downloads are checked like their 200, and 416 with an empty body.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, unknown>;

/** Default location of the spec: $QDRANT_OPENAPI_SPEC, else the vendored gzipped copy. */
export const DEFAULT_SPEC =
  process.env.QDRANT_OPENAPI_SPEC ?? join(dirname(fileURLToPath(import.meta.url)), 'qdrant-openapi.json.gz');

function loadSpec(path: string): Json {
  const raw = readFileSync(path);
  return JSON.parse((path.endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')) as Json;
}

/** Outcome of validating one response. */
export interface ValidationResult {
  ok: boolean;
  /** `METHOD /template -> status` of the matched spec entry. */
  operation?: string;
  errors: string[];
}

/** Convert an OpenAPI 3.0 schema to JSON schema (nullable → type unions; refs → the spec doc). */
export function convertSchema(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertSchema);
  if (!node || typeof node !== 'object') return node;
  const o: Json = {};
  for (const [k, v] of Object.entries(node as Json)) {
    if (k === 'example' || k === 'examples') continue;
    if (k === '$ref' && typeof v === 'string') o[k] = v.replace(/^#\//, 'qdrant-openapi#/');
    else if (k === 'properties' && v && typeof v === 'object') {
      o[k] = Object.fromEntries(Object.entries(v as Json).map(([p, s]) => [p, convertSchema(s)]));
    } else o[k] = convertSchema(v);
  }
  if (o.nullable === undefined) return o;
  const nullable = o.nullable === true;
  delete o.nullable;
  if (!nullable) return o;
  if (typeof o.type === 'string') {
    o.type = [o.type, 'null'];
    if (Array.isArray(o.enum)) o.enum = [...o.enum, null];
    return o;
  }
  const meaningful = Object.keys(o).filter(
    (k) => !['description', 'default', 'deprecated', 'title'].includes(k),
  );
  if (meaningful.length === 0) return { ...o, type: 'null' };
  return { anyOf: [{ type: 'null' }, o] };
}

const isUint = (x: number) => Number.isInteger(x) && x >= 0;

/** Response validator for one OpenAPI document. */
export class OpenApiValidator {
  private readonly ajv: Ajv;
  private readonly spec: Json;
  private readonly cache = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; parts: string[]; literals: number }[];

  constructor(specPath = DEFAULT_SPEC) {
    this.spec = loadSpec(specPath);
    this.ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
    const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ??
      addFormatsModule) as unknown as (ajv: Ajv) => void;
    addFormats(this.ajv);
    for (const f of ['uint', 'uint8', 'uint32', 'uint64'])
      this.ajv.addFormat(f, { type: 'number', validate: isUint });
    this.ajv.addFormat('int64', { type: 'number', validate: Number.isInteger });
    for (const f of ['float', 'double']) this.ajv.addFormat(f, { type: 'number', validate: Number.isFinite });
    this.ajv.addFormat('binary', true);
    this.ajv.addFormat('partial-date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?$/);
    const components = convertSchema((this.spec as { components: unknown }).components);
    this.ajv.addSchema({ $id: 'qdrant-openapi', components }, 'qdrant-openapi');
    this.templates = Object.keys(this.spec.paths as Json).map((template) => {
      const parts = template.split('/').slice(1);
      return { template, parts, literals: parts.filter((p) => !p.startsWith('{')).length };
    });
  }

  /** Find the spec path template for a concrete path and method. */
  findTemplate(method: string, path: string): string | undefined {
    const parts = path.split('/').slice(1);
    const paths = this.spec.paths as Record<string, Json>;
    const hits = this.templates.filter(
      (t) =>
        t.parts.length === parts.length &&
        t.parts.every((p, i) => p.startsWith('{') || p === parts[i]) &&
        paths[t.template]?.[method.toLowerCase()] !== undefined,
    );
    hits.sort((a, b) => b.literals - a.literals);
    return hits[0]?.template;
  }

  /** Validate one response (body: raw bytes of JSON/text bodies; undefined for binary). */
  validate(
    method: string,
    path: string,
    status: number,
    contentType: string | undefined,
    body?: Buffer,
  ): ValidationResult {
    const template = this.findTemplate(method, path);
    if (!template) return { ok: false, errors: [`no operation ${method} ${path} in the spec`] };
    const op = (this.spec.paths as Record<string, Record<string, Json>>)[template]![method.toLowerCase()]!;
    const operation = `${method} ${template} -> ${status}`;
    const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const text = body?.toString('utf8') ?? '';
    if ((status === 401 || status === 403) && type === 'text/plain')
      return { ok: true, operation, errors: [] };
    const responses = op.responses as Record<string, Json>;
    const isBinary = (r: Json | undefined) =>
      r?.content !== undefined && 'application/octet-stream' in (r.content as Json);
    if (status === 416 && isBinary(responses['200']) && text === '')
      return { ok: true, operation, errors: [] };
    const key = status === 206 && isBinary(responses['200']) ? '200' : String(status);
    const specKey = [key, `${key[0]}XX`, 'default'].find((k) => responses[k] !== undefined);
    if (!specKey) return { ok: false, operation, errors: [`status ${status} not in the spec`] };
    const content = (responses[specKey]!.content ?? {}) as Record<string, { schema?: unknown }>;
    const media = content[type];
    if (!media) {
      return {
        ok: false,
        operation,
        errors: [`content-type "${type}" not in spec (${Object.keys(content).join(', ')})`],
      };
    }
    if (type !== 'application/json') {
      const ok = type !== 'text/plain' || typeof text === 'string';
      return { ok, operation, errors: [] };
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { ok: false, operation, errors: [`invalid JSON: ${(e as Error).message}`] };
    }
    const cacheKey = `${method} ${template} ${specKey}`;
    let fn = this.cache.get(cacheKey);
    if (!fn) {
      fn = this.ajv.compile(convertSchema(media.schema ?? {}) as Json);
      this.cache.set(cacheKey, fn);
    }
    if (fn(value)) return { ok: true, operation, errors: [] };
    const errors = (fn.errors ?? []).map(
      (e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`,
    );
    return { ok: false, operation, errors };
  }
}
