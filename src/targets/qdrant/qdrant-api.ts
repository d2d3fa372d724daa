/**
 * The narrow Qdrant interface qnb depends on (Kysely's PostgresPool idea): only the calls we
 * use, as plain REST requests over node:http (qdrant-http.ts; see docs/qdrant.md). The official
 * `@qdrant/js-client-rest` is not used at run time: loading it and its own undici added ~30 MB
 * to every backup and restore (bench/FINDINGS.md); the tests still check qnb's requests against
 * the official client and the OpenAPI spec.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { QnbError } from '../../core/errors.js';
import { getToFile } from '../../core/http-get-file.js';
import type {
  AliasDescription,
  ClusterStatus,
  CollectionClusterInfo,
  QdrantApi,
  QdrantPoint,
  SnapshotDescription,
  SnapshotScope,
} from './qdrant-api-types.js';
import { connectError, httpError } from './qdrant-errors.js';
import { createQdrantHttp, type HttpRequestOptions, IDLE_TIMEOUT, readText } from './qdrant-http.js';

export type {
  AliasAction,
  AliasDescription,
  CallOptions,
  ClusterStatus,
  CollectionClusterInfo,
  QdrantApi,
  QdrantPoint,
  SnapshotDescription,
  SnapshotDownload,
  SnapshotScope,
} from './qdrant-api-types.js';

/** `full storage`, `"docs"` or `shard 2 of "docs"`, for messages. */
export const scopeLabel = (scope: SnapshotScope): string =>
  scope === null
    ? 'full storage'
    : typeof scope === 'string'
      ? `"${scope}"`
      : `shard ${scope.shard} of "${scope.collection}"`;

/** Connection settings for createQdrantApi. */
export interface QdrantApiOptions {
  url: string;
  apiKey?: string;
  /** Longest silence on a JSON call (snapshot list and delete included). @default 600000 */
  controlTimeoutMs?: number;
  /**
   * Longest silence on a snapshot download (connecting, waiting for the answer, receiving).
   * Snapshot creation and upload (`wait=true`) have no timeout: they answer when done. @default 300000
   */
  idleTimeoutMs?: number;
}

/** At most this much of an error answer is read, for its message. */
const ERROR_BODY_MAX = 64 * 1024;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** Creates the Qdrant API for one server. */
export function createQdrantApi(opts: QdrantApiOptions): QdrantApi {
  const baseUrl = opts.url.replace(/\/+$/, '');
  const authHeaders: Record<string, string> = opts.apiKey ? { 'api-key': opts.apiKey } : {};
  const http = createQdrantHttp(baseUrl, authHeaders);
  const controlTimeout = opts.controlTimeoutMs ?? 600_000;
  const snapPath = (scope: SnapshotScope) =>
    scope === null
      ? '/snapshots'
      : typeof scope === 'string'
        ? `/collections/${encodeURIComponent(scope)}/snapshots`
        : `/collections/${encodeURIComponent(scope.collection)}/shards/${scope.shard}/snapshots`;
  const what = scopeLabel;

  /** A QnbError for a request that failed on the network or went silent. */
  function failure(op: string, err: unknown): QnbError {
    if ((err as { code?: string }).code === IDLE_TIMEOUT) {
      return new QnbError('E_CONNECT', `qdrant ${baseUrl}: ${op}: no answer within the timeout`, {
        retryable: true,
        cause: err,
      });
    }
    return connectError(baseUrl, op, err);
  }

  async function raw(
    op: string,
    method: Method,
    path: string,
    extra: HttpRequestOptions = {},
  ): Promise<IncomingMessage> {
    // reads, and snapshot deletes (404 tolerated), may be sent twice (see QdrantHttp)
    const idempotent =
      method === 'GET' ||
      (method === 'POST' && /\/points(\/count|\/scroll)?(\?|$)/.test(path)) ||
      (method === 'DELETE' && /\/snapshots\/[^/]+(\?|$)/.test(path));
    try {
      return await http.send(method, path, { idempotent, ...extra });
    } catch (err) {
      if (extra.signal?.aborted) throw err;
      throw failure(op, err);
    }
  }

  async function text(op: string, res: IncomingMessage, max?: number): Promise<string> {
    try {
      return await readText(res, max);
    } catch (err) {
      throw failure(op, err);
    }
  }

  function parseJson<T>(op: string, body: string): T {
    try {
      return JSON.parse(body) as T;
    } catch {
      throw new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: the answer is not JSON`, {
        hint: 'is QDRANT_URL a Qdrant server?',
      });
    }
  }

  /** The `result` of a 200 answer, `'accepted'` for a 202 (snapshot calls with `wait=true`). */
  async function jsonResult<T>(op: string, res: IncomingMessage): Promise<T | 'accepted'> {
    const body = await text(op, res);
    if (res.statusCode === 202) return 'accepted';
    if (res.statusCode !== 200) throw httpError(baseUrl, op, res.statusCode ?? 0, body);
    return parseJson<{ result: T }>(op, body).result;
  }

  /** A JSON control call: the parsed answer of a 2xx; HTTP errors and timeouts as QnbErrors. */
  async function call<T>(op: string, method: Method, path: string, body?: unknown): Promise<T> {
    const res = await raw(op, method, path, {
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      idleMs: controlTimeout,
    });
    const answer = await text(op, res);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw httpError(baseUrl, op, status, answer);
    return parseJson<T>(op, answer);
  }

  /** The `result` of a control call's answer (Qdrant's `{ result, status, time }` envelope). */
  async function result<T>(op: string, method: Method, path: string, body?: unknown): Promise<T> {
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
    countExact: async (name, timeoutSec = 600) =>
      Number(
        (
          await result<{ count: number }>(
            `count points of "${name}"`,
            'POST',
            `${coll(name)}/points/count?timeout=${timeoutSec}`,
            { exact: true },
          )
        ).count,
      ),
    async countByScroll(name, pageSize, timeoutSec = 600) {
      let count = 0;
      let offset: unknown = null;
      do {
        const page: { points: unknown[]; next_page_offset?: unknown } = await result(
          `count points of "${name}" by scrolling`,
          'POST',
          `${coll(name)}/points/scroll?timeout=${timeoutSec}`,
          {
            limit: pageSize,
            with_payload: false,
            with_vector: false,
            ...(offset === null ? {} : { offset }),
          },
        );
        count += page.points.length;
        offset = page.next_page_offset ?? null;
      } while (offset !== null);
      return count;
    },
    scroll: async (name, limit, timeoutSec = 600) =>
      (
        await result<{ points: QdrantPoint[] }>(
          `read points of "${name}"`,
          'POST',
          `${coll(name)}/points/scroll?timeout=${timeoutSec}`,
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
    points: (name, op, body) =>
      result(`${op} points of "${name}"`, 'POST', `${coll(name)}/points/${op}`, body),
    deleteCollection: async (name) => {
      await result(`delete collection "${name}"`, 'DELETE', coll(name));
    },
    createCollection: async (name, body) => {
      await result(`create collection "${name}"`, 'PUT', coll(name), body);
    },
    createShardKey: async (name, shardKey) => {
      await result(`create shard key ${shardKey} of "${name}"`, 'PUT', `${coll(name)}/shards`, {
        shard_key: shardKey,
      });
    },
    createPayloadIndex: async (name, field_name, field_schema) => {
      const op = `create payload index "${field_name}" of "${name}"`;
      await result(op, 'PUT', `${coll(name)}/index?wait=true`, { field_name, field_schema });
    },
    clusterStatus: () => result<ClusterStatus>('read cluster status', 'GET', '/cluster'),
    collectionCluster: (name) =>
      result<CollectionClusterInfo>(`read cluster info of "${name}"`, 'GET', `${coll(name)}/cluster`),

    async createSnapshot(collection, callOpts = {}) {
      const op = `create snapshot of ${what(collection)}`;
      const res = await raw(op, 'POST', `${snapPath(collection)}?wait=true`, { signal: callOpts.signal });
      return jsonResult<SnapshotDescription>(op, res);
    },

    async listSnapshots(collection) {
      const op = `list snapshots of ${what(collection)}`;
      const res = await raw(op, 'GET', snapPath(collection), { idleMs: controlTimeout });
      const result = await jsonResult<SnapshotDescription[]>(op, res);
      return result === 'accepted' ? [] : result;
    },

    async deleteSnapshot(collection, snapshot) {
      const op = `delete snapshot ${snapshot}`;
      const res = await raw(
        op,
        'DELETE',
        `${snapPath(collection)}/${encodeURIComponent(snapshot)}?wait=true`,
        { idleMs: controlTimeout },
      );
      const answer = await text(op, res, ERROR_BODY_MAX);
      if (res.statusCode === 404) return false;
      if (res.statusCode !== 200 && res.statusCode !== 202)
        throw httpError(baseUrl, op, res.statusCode ?? 0, answer);
      return true;
    },

    async downloadSnapshot(collection, snapshot, callOpts = {}) {
      const op = `download snapshot ${snapshot}`;
      const path = `${snapPath(collection)}/${encodeURIComponent(snapshot)}`;
      const res = await raw(op, 'GET', path, {
        headers: { 'accept-encoding': 'identity' },
        signal: callOpts.signal,
        idleMs: opts.idleTimeoutMs ?? 300_000,
      });
      if (res.statusCode !== 200) {
        throw httpError(baseUrl, op, res.statusCode ?? 0, await text(op, res, ERROR_BODY_MAX));
      }
      const len = Number(res.headers['content-length']);
      const enc = res.headers['content-encoding'];
      return {
        body: res,
        contentLength: Number.isFinite(len) ? len : undefined,
        contentEncoding: typeof enc === 'string' && enc !== 'identity' ? enc : undefined,
      };
    },

    downloadSnapshotToFile(collection, snapshot, path, callOpts) {
      const url = new URL(`${baseUrl}${snapPath(collection)}/${encodeURIComponent(snapshot)}`);
      return getToFile(url, path, {
        ...callOpts,
        headers: { ...authHeaders, 'accept-encoding': 'identity' },
        idleMs: opts.idleTimeoutMs ?? 300_000,
      });
    },

    async uploadSnapshot(collection, file, callOpts = {}) {
      const op = `upload snapshot to ${what(collection)}`;
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
      const res = await raw(op, 'POST', `${snapPath(collection)}/upload?${query}`, {
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + file.size + tail.length),
        },
        body: Readable.from(parts()),
        signal: callOpts.signal,
      });
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
      http.close();
    },
  };
}
