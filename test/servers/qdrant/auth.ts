/**
 * API-key auth like Qdrant: `api-key` header or `Authorization: Bearer`, manage and read-only keys.
 *
 * Missing or wrong keys are rejected by the middleware with 401 and a plain-text body. A read-only
 * key on a write route passes the middleware and is refused by the handler's access check with a
 * JSON 403 "Forbidden: Global manage access is required" (what Qdrant 1.19 answers).
 */

import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { forbidden, HttpError } from './http-util.js';

/** Routes that never need a key (Qdrant's whitelist). */
const WHITELIST_EXACT = ['/', '/healthz'];
const WHITELIST_PREFIX = ['/readyz', '/livez'];

/** Access level of a request. */
export type Access = 'manage' | 'read';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Keys configured on the server. */
export interface AuthKeys {
  apiKey?: string;
  readOnlyApiKey?: string;
}

/** Check a request's key; returns the access level or throws a 401 HttpError (plain text). */
export function authenticate(keys: AuthKeys, req: IncomingMessage, path: string): Access {
  if (keys.apiKey === undefined && keys.readOnlyApiKey === undefined) return 'manage';
  if (WHITELIST_EXACT.includes(path) || WHITELIST_PREFIX.some((p) => path.startsWith(p))) return 'manage';
  const header = req.headers['api-key'];
  const auth = req.headers.authorization;
  const key = typeof header === 'string' ? header : auth?.startsWith('Bearer ') ? auth.slice(7) : undefined;
  if (key === undefined) {
    throw new HttpError(401, 'Must provide an API key or an Authorization bearer token', true);
  }
  if (keys.apiKey !== undefined && same(key, keys.apiKey)) return 'manage';
  if (keys.readOnlyApiKey !== undefined && same(key, keys.readOnlyApiKey)) return 'read';
  throw new HttpError(401, 'Invalid API key or JWT', true);
}

/** Refuse a write with a read-only key, as the handler's access check does. */
export function requireWrite(access: Access): void {
  if (access !== 'manage') throw forbidden('Global manage access is required');
}

/** A request body larger than this is not read when the request is refused (see refuseWrite). */
const UNREAD_BODY_LIMIT = 1024 * 1024;

/**
 * Refuse a write with a read-only key like Qdrant (actix): the 403 is answered without reading
 * the request body. A large body (a snapshot upload) is then cut off while the client is still
 * sending; the reset discards the 403 on the client side, which sees ECONNRESET/EPIPE only (as
 * measured against Qdrant 1.18.3). Modelled as a reset without an answer. Small bodies are read
 * and dropped, and the 403 arrives. Returns false for manage access.
 */
export function refuseWrite(access: Access, req: IncomingMessage): boolean {
  if (access === 'manage') return false;
  const length = Number(req.headers['content-length'] ?? 0);
  const err = forbidden('Global manage access is required');
  if (length > UNREAD_BODY_LIMIT || req.headers['transfer-encoding'] !== undefined) {
    const socket = req.socket;
    if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket.destroy();
    return true;
  }
  throw err;
}
