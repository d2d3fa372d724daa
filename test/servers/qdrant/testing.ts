/**
 * Test support: start servers whose every response is validated against the OpenAPI spec, and
 * raw HTTP helpers that show bytes exactly as sent (no automatic decompression).
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
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
