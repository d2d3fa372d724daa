/**
 * The narrow Qdrant interface qnb depends on (Kysely's PostgresPool idea): only the calls we
 * use. JSON control calls go through the official `@qdrant/js-client-rest` (loaded lazily);
 * snapshot create/upload go through undici and the snapshot download through node:http, because
 * the official client has no binary transfer and gives up after 300 s (see docs/qdrant.md).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { QnbError } from '../../core/errors.js';
import { connectError, httpError } from './qdrant-errors.js';

/** `SnapshotDescription` from the Qdrant OpenAPI spec. */
export interface SnapshotDescription {
  name: string;
  creation_time?: string | null;
  size: number;
  checksum?: string | null;
}

/** An alias as Qdrant lists it. */
export interface AliasDescription {
  alias_name: string;
  collection_name: string;
}

/** A point as returned by scroll/retrieve with vectors and payload. */
export interface QdrantPoint {
  id: string | number;
  vector?: unknown;
  payload?: Record<string, unknown> | null;
}

/** Alias change actions (`POST /collections/aliases`). */
export type AliasAction =
  | { create_alias: { alias_name: string; collection_name: string } }
  | { delete_alias: { alias_name: string } };

/** A streamed download. */
export interface SnapshotDownload {
  body: Readable;
  contentLength: number | undefined;
  contentEncoding: string | undefined;
}

/** Options of a long-running call. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Everything qnb asks of a Qdrant server. `collection: null` means the full storage. */
export interface QdrantApi {
  readonly baseUrl: string;
  /** `GET /` — server version. */
  version(): Promise<string>;
  listCollections(): Promise<string[]>;
  /** `GET /collections/{c}` — the CollectionInfo object; NotFoundError when missing. */
  getCollection(name: string): Promise<Record<string, unknown>>;
  collectionExists(name: string): Promise<boolean>;
  /** Aliases pointing at `name`, or all aliases when `name` is undefined. */
  listAliases(name?: string): Promise<AliasDescription[]>;
  updateAliases(actions: AliasAction[]): Promise<void>;
  countExact(name: string): Promise<number>;
  /** The first `limit` points in id order, with vectors and payload. */
  scroll(name: string, limit: number): Promise<QdrantPoint[]>;
  retrieve(name: string, ids: (string | number)[]): Promise<QdrantPoint[]>;
  deleteCollection(name: string): Promise<void>;
  /**
   * `POST …/snapshots?wait=true` with no client-side timeout. Returns the description, or
   * `'accepted'` when the server answered 202. Network errors are thrown as E_CONNECT; the
   * caller must then look the snapshot up instead of creating a second one.
   */
  createSnapshot(collection: string | null, opts?: CallOptions): Promise<SnapshotDescription | 'accepted'>;
  listSnapshots(collection: string | null): Promise<SnapshotDescription[]>;
  /** Idempotent: a missing snapshot is not an error. */
  deleteSnapshot(collection: string | null, snapshot: string): Promise<void>;
  /** `GET …/snapshots/{name}` with `Accept-Encoding: identity`, streamed. */
  downloadSnapshot(
    collection: string | null,
    snapshot: string,
    opts?: CallOptions,
  ): Promise<SnapshotDownload>;
  /** Multipart upload (`snapshot` field) with `priority=snapshot`, `wait=true` and the checksum. */
  uploadSnapshot(
    collection: string,
    body: { fileName: string; size: number; stream: Readable; sha256: string },
    opts?: CallOptions,
  ): Promise<void>;
  close(): Promise<void>;
}

/** Connection settings for createQdrantApi. */
export interface QdrantApiOptions {
  url: string;
  apiKey?: string;
  /** Timeout for short JSON calls. @default 600000 */
  controlTimeoutMs?: number;
  /**
   * Longest silence while a download body streams (and, for the snapshot download, while it
   * connects and waits for the answer). @default 300000
   */
  idleTimeoutMs?: number;
}

/** At most this much of an error answer is read, for its message. */
const ERROR_BODY_MAX = 64 * 1024;

/** The text of a (short) error answer. */
async function errorBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < ERROR_BODY_MAX) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, ERROR_BODY_MAX);
}

/**
 * A streamed GET through node:http(s). Used for the snapshot download: it receives a large body
 * with clearly less CPU than undici (bench/FINDINGS.md), and on a busy machine CPU is what
 * limits the download. One connection per download (`agent: false`), closed at its end.
 */
function streamedGet(
  url: string,
  headers: Record<string, string>,
  opts: { signal?: AbortSignal; idleMs: number },
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'GET', headers, agent: false, signal: opts.signal }, resolve);
    req.on('error', reject);
    req.setTimeout(opts.idleMs, () => {
      const err = Object.assign(new Error(`no data for ${Math.round(opts.idleMs / 1000)} s`), {
        code: 'ETIMEDOUT',
      });
      req.destroy(err);
    });
    req.end();
  });
}

// biome-ignore lint/suspicious/noExplicitAny: the official client is loaded lazily; its types stay inside this file
type OfficialClient = any;

/** Creates the Qdrant API for one server. */
export function createQdrantApi(opts: QdrantApiOptions): QdrantApi {
  const baseUrl = opts.url.replace(/\/+$/, '');
  const authHeaders: Record<string, string> = opts.apiKey ? { 'api-key': opts.apiKey } : {};
  // Long calls: no header timeout (wait=true answers only when done), idle timeout on bodies.
  // undici loads on the first transfer, so `qnb list` and `qnb --help` do not pay for it
  let undici: Promise<{ agent: Dispatcher; request: typeof import('undici').request }> | undefined;
  const transport = () => {
    undici ??= import('undici').then(({ Agent, request }) => ({
      agent: new Agent({ headersTimeout: 0, bodyTimeout: opts.idleTimeoutMs ?? 300_000 }),
      request,
    }));
    return undici;
  };
  let client: Promise<OfficialClient> | undefined;

  const official = (): Promise<OfficialClient> => {
    client ??= import('@qdrant/js-client-rest').then(
      ({ QdrantClient }) =>
        // api key as a plain header: the client's own apiKey option prints a warning on http.
        new QdrantClient({
          url: baseUrl,
          headers: authHeaders,
          checkCompatibility: false,
          timeout: opts.controlTimeoutMs ?? 600_000,
        }),
    );
    return client;
  };

  async function control<T>(op: string, fn: (c: OfficialClient) => Promise<T>): Promise<T> {
    const c = await official();
    try {
      return await fn(c);
    } catch (err) {
      const e = err as { status?: number; data?: unknown; name?: string };
      if (typeof e.status === 'number') throw httpError(baseUrl, op, e.status, e.data);
      if (e.name === 'QdrantClientTimeoutError') {
        throw new QnbError('E_CONNECT', `qdrant ${baseUrl}: ${op}: no answer within the timeout`, {
          retryable: true,
        });
      }
      throw connectError(baseUrl, op, err);
    }
  }

  const snapPath = (collection: string | null) =>
    collection === null ? '/snapshots' : `/collections/${encodeURIComponent(collection)}/snapshots`;
  const what = (collection: string | null) => (collection === null ? 'full storage' : `"${collection}"`);

  async function raw(
    op: string,
    method: Dispatcher.HttpMethod,
    path: string,
    extra: { headers?: Record<string, string>; body?: Readable; signal?: AbortSignal } = {},
  ): Promise<Dispatcher.ResponseData> {
    const { agent, request } = await transport();
    try {
      return await request(`${baseUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: { ...authHeaders, ...extra.headers },
        body: extra.body,
        signal: extra.signal,
      });
    } catch (err) {
      if (extra.signal?.aborted) throw err;
      throw connectError(baseUrl, op, err);
    }
  }

  async function jsonResult<T>(op: string, res: Dispatcher.ResponseData): Promise<T | 'accepted'> {
    const text = await res.body.text();
    if (res.statusCode === 202) return 'accepted';
    if (res.statusCode !== 200) throw httpError(baseUrl, op, res.statusCode, text);
    try {
      return (JSON.parse(text) as { result: T }).result;
    } catch {
      throw new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: the answer is not JSON`, {
        hint: 'is QDRANT_URL a Qdrant server?',
      });
    }
  }

  return {
    baseUrl,
    version: () => control('read server version', async (c) => String((await c.versionInfo()).version)),
    listCollections: () =>
      control('list collections', async (c) =>
        (await c.getCollections()).collections.map((x: { name: string }) => x.name),
      ),
    getCollection: (name) => control(`read collection "${name}"`, (c) => c.getCollection(name)),
    collectionExists: (name) =>
      control(`check collection "${name}"`, async (c) => Boolean((await c.collectionExists(name)).exists)),
    listAliases: (name) =>
      control(
        'list aliases',
        async (c) => (name === undefined ? await c.getAliases() : await c.getCollectionAliases(name)).aliases,
      ),
    updateAliases: (actions) => control('update aliases', (c) => c.updateCollectionAliases({ actions })),
    countExact: (name) =>
      control(`count points of "${name}"`, async (c) => Number((await c.count(name, { exact: true })).count)),
    scroll: (name, limit) =>
      control(
        `read points of "${name}"`,
        async (c) => (await c.scroll(name, { limit, with_payload: true, with_vector: true })).points,
      ),
    retrieve: (name, ids) =>
      control(`read points of "${name}"`, (c) =>
        c.retrieve(name, { ids, with_payload: true, with_vector: true }),
      ),
    deleteCollection: (name) => control(`delete collection "${name}"`, (c) => c.deleteCollection(name)),

    async createSnapshot(collection, callOpts = {}) {
      const op = `create snapshot of ${what(collection)}`;
      const res = await raw(op, 'POST', `${snapPath(collection)}?wait=true`, { signal: callOpts.signal });
      return jsonResult<SnapshotDescription>(op, res);
    },

    async listSnapshots(collection) {
      const op = `list snapshots of ${what(collection)}`;
      const result = await jsonResult<SnapshotDescription[]>(op, await raw(op, 'GET', snapPath(collection)));
      return result === 'accepted' ? [] : result;
    },

    async deleteSnapshot(collection, snapshot) {
      const op = `delete snapshot ${snapshot}`;
      const res = await raw(
        op,
        'DELETE',
        `${snapPath(collection)}/${encodeURIComponent(snapshot)}?wait=true`,
      );
      const text = await res.body.text();
      if (res.statusCode === 404) return;
      if (res.statusCode !== 200 && res.statusCode !== 202)
        throw httpError(baseUrl, op, res.statusCode, text);
    },

    async downloadSnapshot(collection, snapshot, callOpts = {}) {
      const op = `download snapshot ${snapshot}`;
      const path = `${snapPath(collection)}/${encodeURIComponent(snapshot)}`;
      let res: IncomingMessage;
      try {
        res = await streamedGet(
          `${baseUrl}${path}`,
          { ...authHeaders, 'accept-encoding': 'identity' },
          { signal: callOpts.signal, idleMs: opts.idleTimeoutMs ?? 300_000 },
        );
      } catch (err) {
        if (callOpts.signal?.aborted) throw err;
        throw connectError(baseUrl, op, err);
      }
      if (res.statusCode !== 200) throw httpError(baseUrl, op, res.statusCode ?? 0, await errorBody(res));
      const len = Number(res.headers['content-length']);
      const enc = res.headers['content-encoding'];
      return {
        body: res,
        contentLength: Number.isFinite(len) ? len : undefined,
        contentEncoding: typeof enc === 'string' && enc !== 'identity' ? enc : undefined,
      };
    },

    async uploadSnapshot(collection, file, callOpts = {}) {
      const op = `upload snapshot to "${collection}"`;
      const boundary = `----qnb${Math.random().toString(16).slice(2)}${Date.now().toString(16)}`;
      const head = Buffer.from(
        `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${file.fileName}"\r\n` +
          'Content-Type: application/octet-stream\r\n\r\n',
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      async function* parts() {
        yield head;
        yield* file.stream;
        yield tail;
      }
      const query = `wait=true&priority=snapshot&checksum=${file.sha256}`;
      const res = await raw(
        op,
        'POST',
        `/collections/${encodeURIComponent(collection)}/snapshots/upload?${query}`,
        {
          headers: {
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': String(head.length + file.size + tail.length),
          },
          body: Readable.from(parts()),
          signal: callOpts.signal,
        },
      );
      const result = await jsonResult<boolean>(op, res);
      if (result === 'accepted') {
        throw new QnbError(
          'E_SERVER',
          `qdrant ${baseUrl}: ${op}: the server answered 202 (accepted) to wait=true`,
          {
            hint: 'the restore may still be running on the server; check the collection before retrying',
          },
        );
      }
    },

    async close() {
      if (undici) await (await undici).agent.close().catch(() => {});
    },
  };
}
