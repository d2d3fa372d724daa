/**
 * Test support: start servers whose every response is validated against the OpenAPI spec, and
 * raw HTTP helpers that show bytes exactly as sent (no automatic decompression).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { QdrantClient } from '@qdrant/js-client-rest';
import tar from 'tar-stream';
import { OpenApiValidator } from './openapi-validate.js';
import { startQdrantTestServer } from './server.js';
import type { QdrantTestServer, QdrantTestServerOptions, ResponseRecord } from './types.js';

/** Collects OpenAPI violations of every response of every server it started. */
export class ValidatedServers {
  readonly validator = new OpenApiValidator();
  readonly violations: string[] = [];
  readonly checked: string[] = [];
  private readonly servers: QdrantTestServer[] = [];

  /** Start a server whose responses all go through the validator. */
  async start(opts: QdrantTestServerOptions = {}): Promise<QdrantTestServer> {
    const server = await startQdrantTestServer({ ...opts, onResponse: (r) => this.check(r) });
    this.servers.push(server);
    return server;
  }

  private check(r: ResponseRecord): void {
    if (r.status === 0) return; // connection dropped before anything was sent
    if (r.headers.via) return; // the modelled reverse proxy answered, not Qdrant
    const v = this.validator.validate(r.method, r.path, r.status, r.headers['content-type'], r.body);
    this.checked.push(v.operation ?? `${r.method} ${r.path} -> ${r.status}`);
    if (!v.ok) {
      const body = r.body?.toString('utf8').slice(0, 300) ?? '';
      this.violations.push(`${r.method} ${r.path} -> ${r.status}: ${v.errors.join('; ')} body=${body}`);
    }
  }

  /** Stop every server started here. */
  async stopAll(): Promise<void> {
    await Promise.all(this.servers.splice(0).map((s) => s.stop()));
  }
}

/** A raw HTTP exchange. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Set when the connection failed before or during the body. */
  error?: Error;
}

/** One HTTP request with node:http; resolves even when the body is cut (error is set then). */
export function raw(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const req = request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false }, (res) => {
      const done = (error?: Error) =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), error });
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done(res.complete ? undefined : new Error('incomplete body')));
      res.on('error', (e) => done(e));
      res.on('aborted', () => done(new Error('aborted')));
    });
    req.on('error', (error) => resolve({ status: 0, headers: {}, body: Buffer.concat(chunks), error }));
    req.end(opts.body);
  });
}

/** JSON helper over fetch: returns status and parsed body. */
export async function call(
  server: { url: string },
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; text: string }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // plain text
  }
  return { status: res.status, json, text };
}

/**
 * Upload a file as multipart/form-data (part `snapshot`) streamed from disk with node:http.
 * (Node 20's fetch + FormData(openAsBlob) holds about the whole file in memory.)
 */
export async function uploadFile(
  url: string,
  path: string,
  filename: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const boundary = `----qnb${randomUUID()}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const size = (await stat(path)).size;
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': head.length + size + tail.length,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(head);
    const file = createReadStream(path);
    file.on('error', reject);
    file.on('end', () => req.end(tail));
    file.pipe(req, { end: false });
  });
}

/** sha256 hex of a buffer. */
export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const UUID1 = '550e8400-e29b-41d4-a716-446655440000';
export const UUID2 = 'f0e1d2c3-b4a5-4697-8899-aabbccddeeff';

/** A collection with named dense vectors + a sparse vector, 5 points with payloads. */
export async function seed(server: QdrantTestServer, name: string): Promise<void> {
  const client = new QdrantClient({ url: server.url, checkCompatibility: false });
  await client.createCollection(name, {
    vectors: { text: { size: 4, distance: 'Cosine' }, image: { size: 3, distance: 'Dot' } },
    sparse_vectors: { keywords: {} },
  });
  await client.upsert(name, {
    wait: true,
    points: [
      { id: 7, vector: { text: [1, 2, 3, 4], image: [0.5, 0.25, 0.125] }, payload: { title: 'seven', n: 7 } },
      {
        id: UUID2,
        vector: { text: [0.1, 0.2, 0.3, 0.4], keywords: { indices: [9, 2], values: [0.5, 1.5] } },
      },
      { id: 1, vector: { image: [1, 0, 0] }, payload: { nested: { a: [1, 2, { b: null }] }, s: 'ü' } },
      { id: UUID1, vector: { text: [0, 0, 0, 1], image: [3, 2, 1] }, payload: { tags: ['x', 'y'] } },
      { id: 100, vector: { keywords: { indices: [1], values: [0.3] } }, payload: {} },
    ],
  });
}

/**
 * A custom-sharded collection of 2-d vectors: its shard keys created in the order given (so
 * numbered 1, 2, … as Qdrant numbers keys of one shard each), each holding the listed point ids
 * (payload `{ id }`). Throws on any refusal.
 */
export async function seedCustomSharded(
  server: { url: string },
  name: string,
  keys: [string, number[]][],
): Promise<void> {
  const ok = async (method: string, path: string, body: unknown) => {
    const r = await call(server, method, path, body);
    if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
  };
  await ok('PUT', `/collections/${name}`, {
    vectors: { size: 2, distance: 'Dot' },
    sharding_method: 'custom',
  });
  for (const [shard_key] of keys) await ok('PUT', `/collections/${name}/shards`, { shard_key });
  for (const [shard_key, ids] of keys) {
    if (ids.length === 0) continue;
    await ok('PUT', `/collections/${name}/points?wait=true`, {
      shard_key,
      points: ids.map((id) => ({ id, vector: [id, 1], payload: { id } })),
    });
  }
}

/** Download a snapshot with Accept-Encoding: identity; asserts 200 and no Content-Encoding. */
export async function downloadSnapshot(server: QdrantTestServer, path: string): Promise<Buffer> {
  const res = await fetch(`${server.url}${path}`, { headers: { 'accept-encoding': 'identity' } });
  if (res.status !== 200) throw new Error(`download ${path}: HTTP ${res.status}`);
  if (res.headers.get('content-encoding') !== null) throw new Error('unexpected Content-Encoding');
  return Buffer.from(await res.arrayBuffer());
}

/** All entries of a tar held in memory (small test snapshots only). */
export async function tarEntries(buf: Buffer): Promise<Map<string, Buffer>> {
  const extract = tar.extract();
  const out = new Map<string, Buffer>();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry as AsyncIterable<Buffer>) chunks.push(c);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  extract.end(buf);
  await done;
  return out;
}
