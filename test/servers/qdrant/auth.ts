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
