/**
 * The HTTP transport of qdrant-api.ts: node:http(s) with one keep-alive agent per server.
 * node:http rather than the undici package: loading undici added ~20 MB of RSS to every backup
 * and restore, and it received a snapshot with more CPU (bench/FINDINGS.md).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IDLE_TIMEOUT } from '../../core/http-get-file.js';

/** Per-request options of QdrantHttp.send. */
export interface HttpRequestOptions {
  headers?: Record<string, string>;
  /** A JSON text, or a stream sent as it is read (then give `content-length` in headers). */
  body?: string | Readable;
  signal?: AbortSignal;
  /**
   * Longest silence on the connection while connecting, waiting for the answer or receiving
   * it; undefined = no limit (for `wait=true` calls that answer only when the work is done).
   */
  idleMs?: number;
  /**
   * Safe to send twice (reads, and deletes that tolerate 404): sent once more on a fresh
   * connection when a reused keep-alive connection fails before any answer. Qdrant (actix)
   * closes connections idle for 5 s, and a request can cross that close on the wire.
   */
  idempotent?: boolean;
}

/** One Qdrant server's HTTP connection pool. */
export interface QdrantHttp {
  /** Sends a request; resolves with the answer's head (the body is still to be read). */
  send(method: string, path: string, opts?: HttpRequestOptions): Promise<IncomingMessage>;
  /** Closes the pooled connections. */
  close(): void;
}

export { IDLE_TIMEOUT };

/** Reads an answer's body as text; beyond `max` bytes the rest is read and dropped. */
export async function readText(res: IncomingMessage, max = Number.POSITIVE_INFINITY): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    if (size < max) chunks.push(chunk);
    size += chunk.length;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return size > max ? text.slice(0, max) : text;
}

/** The transport for `baseUrl` (scheme, host and an optional path prefix), sending `headers` always. */
export function createQdrantHttp(baseUrl: string, headers: Record<string, string>): QdrantHttp {
  const https = new URL(baseUrl).protocol === 'https:';
  const agent = https ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
  const request = https ? httpsRequest : httpRequest;
  function sendOnce(method: string, path: string, opts: HttpRequestOptions): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      // a streamed body (an upload) cannot be sent twice, so it never takes a pooled connection
      // that may have gone stale: it opens its own
      const streamed = typeof opts.body === 'object';
      const req = request(
        new URL(`${baseUrl}${path}`),
        {
          method,
          agent: streamed ? false : agent,
          headers: { ...headers, ...opts.headers },
          signal: opts.signal,
        },
        resolve,
      );
      // `requestSent`: the whole request had been handed to the OS when the connection
      // failed (the server may have the upload and still be working on it); `staleSocket`:
      // it failed before any answer on a reused keep-alive connection
      const fail = (err: Error) =>
        reject(Object.assign(err, { requestSent: req.writableFinished, staleSocket: req.reusedSocket }));
      req.on('error', fail);
      const idleMs = opts.idleMs;
      if (idleMs !== undefined) {
        req.setTimeout(idleMs, () => {
          const err = new Error(`no data for ${Math.round(idleMs / 1000)} s`);
          req.destroy(Object.assign(err, { code: IDLE_TIMEOUT }));
        });
      }
      const body = opts.body;
      if (body === undefined || typeof body === 'string') req.end(body);
      // an early answer (401, 500) ends the request; the error of the unsent rest is not news
      else pipeline(body, req).catch(fail);
    });
  }

  return {
    async send(method, path, opts = {}) {
      try {
        return await sendOnce(method, path, opts);
      } catch (err) {
        const e = err as { staleSocket?: boolean; code?: string };
        const retry =
          opts.idempotent === true &&
          typeof opts.body !== 'object' &&
          e.staleSocket === true &&
          e.code !== IDLE_TIMEOUT &&
          !opts.signal?.aborted;
        if (!retry) throw err;
        return sendOnce(method, path, opts);
      }
    },
    close() {
      agent.destroy();
    },
  };
}
