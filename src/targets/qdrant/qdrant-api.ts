/**
 * The narrow Qdrant interface qnb depends on (Kysely's PostgresPool idea): only the calls we
 * use, as plain REST requests. JSON control calls and snapshot create/upload go through undici
 * (loaded on the first call), the snapshot download through node:http (see docs/qdrant.md).
 * The official `@qdrant/js-client-rest` is not used at run time: loading it and its own undici
 * added ~30 MB to every backup and restore (bench/FINDINGS.md); the tests still check qnb's
 * requests against the official client and the OpenAPI spec.
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

  const controlTimeout = opts.controlTimeoutMs ?? 600_000;

  /** A JSON control call: the parsed answer of a 2xx; HTTP errors and timeouts as QnbErrors. */
  async function call<T>(
    op: string,
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const { agent, request } = await transport();
    let res: Dispatcher.ResponseData;
    let text: string;
    try {
      res = await request(`${baseUrl}${path}`, {
        method,
        dispatcher: agent,
        headers: body === undefined ? authHeaders : { ...authHeaders, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        headersTimeout: controlTimeout,
        bodyTimeout: controlTimeout,
      });
      text = await res.body.text();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new QnbError('E_CONNECT', `qdrant ${baseUrl}: ${op}: no answer within the timeout`, {
          retryable: true,
        });
      }
      throw connectError(baseUrl, op, err);
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw httpError(baseUrl, op, res.statusCode, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: the answer is not JSON`, {
        hint: 'is QDRANT_URL a Qdrant server?',
      });
    }
  }

  /** The `result` of a control call's answer (Qdrant's `{ result, status, time }` envelope). */
  async function result<T>(
    op: string,
    method: Dispatcher.HttpMethod,
    path: string,
    body?: unknown,
  ): Promise<T> {
    const answer = await call<{ result?: T }>(op, method, path, body);
    if (answer?.result === undefined || answer.result === null) {
      throw new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: the answer has no result`, {
        hint: 'is QDRANT_URL a Qdrant server?',
      });
    }
    return answer.result;
  }

  const coll = (name: string) => `/collections/${encodeURIComponent(name)}`;
  const withVectors = { with_payload: true, with_vector: true };

  return {
    baseUrl,
    version: async () =>
      String((await call<{ version?: unknown }>('read server version', 'GET', '/')).version),
    listCollections: async () =>
      (
        await result<{ collections: { name: string }[] }>('list collections', 'GET', '/collections')
      ).collections.map((x) => x.name),
    getCollection: (name) => result(`read collection "${name}"`, 'GET', coll(name)),
    collectionExists: async (name) =>
      Boolean(
        (await result<{ exists: boolean }>(`check collection "${name}"`, 'GET', `${coll(name)}/exists`))
          .exists,
      ),
    listAliases: async (name) =>
      (
        await result<{ aliases: AliasDescription[] }>(
          'list aliases',
          'GET',
          name === undefined ? '/aliases' : `${coll(name)}/aliases`,
        )
      ).aliases,
    updateAliases: async (actions) => {
      await result('update aliases', 'POST', '/collections/aliases', { actions });
    },
    countExact: async (name) =>
      Number(
        (
          await result<{ count: number }>(`count points of "${name}"`, 'POST', `${coll(name)}/points/count`, {
            exact: true,
          })
        ).count,
      ),
    scroll: async (name, limit) =>
      (
        await result<{ points: QdrantPoint[] }>(
          `read points of "${name}"`,
          'POST',
          `${coll(name)}/points/scroll`,
          {
            limit,
            ...withVectors,
          },
        )
      ).points,
    retrieve: (name, ids) =>
      result<QdrantPoint[]>(`read points of "${name}"`, 'POST', `${coll(name)}/points`, {
        ids,
        ...withVectors,
      }),
    deleteCollection: async (name) => {
      await result(`delete collection "${name}"`, 'DELETE', coll(name));
    },

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
