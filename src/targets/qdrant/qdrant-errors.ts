/**
 * Turns HTTP statuses and network failures from Qdrant into one clear QnbError line.
 */
import { NotFoundError, QnbError } from '../../core/errors.js';

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_CLOSED',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The network error code of an error or of any error in its cause chain. */
export function networkCode(err: unknown): string | undefined {
  for (
    let e = err as { code?: unknown; cause?: unknown } | undefined, i = 0;
    e && i < 5;
    e = e.cause as typeof e, i++
  ) {
    if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return e.code;
  }
  return undefined;
}

/** Qdrant's error text from a JSON envelope `{status:{error}}` or a plain-text body. */
export function errorText(body: unknown): string {
  if (typeof body === 'string') {
    try {
      return errorText(JSON.parse(body));
    } catch {
      // a proxy's HTML error page: its title says it
      const title = /<title>([^<]*)<\/title>/i.exec(body)?.[1];
      return (title ? `${title.trim()} (from a proxy)` : body.trim()).slice(0, 300);
    }
  }
  const status = (body as { status?: { error?: string } } | null)?.status;
  if (status && typeof status === 'object' && typeof status.error === 'string') return status.error;
  return '';
}

/** A QnbError for an HTTP error status of operation `op` (e.g. `create snapshot of "docs"`). */
export function httpError(baseUrl: string, op: string, status: number, body: unknown): QnbError {
  return Object.assign(describeHttpError(baseUrl, op, status, body), { httpStatus: status });
}

/**
 * A reverse proxy's "gave up waiting" (502 Bad Gateway, 504 Gateway Timeout): Qdrant itself may
 * still be doing the work (its handlers run to completion without the client).
 */
export function isGatewayFailure(err: unknown): boolean {
  const status = (err as { httpStatus?: number } | undefined)?.httpStatus;
  return status === 502 || status === 504;
}

/**
 * Whether the server may have received the whole request before the answer was lost (a proxy's
 * 502/504, or a connection that failed after the request was sent): then the work may go on.
 */
export function mayStillRun(err: unknown): boolean {
  if (isGatewayFailure(err)) return true;
  if (!(err instanceof QnbError) || err.code !== 'E_CONNECT') return false;
  for (let e = err as { cause?: unknown; requestSent?: boolean } | undefined, i = 0; e && i < 5; i++) {
    if (e.requestSent === true) return true;
    e = e.cause as typeof e;
  }
  return false;
}

function describeHttpError(baseUrl: string, op: string, status: number, body: unknown): QnbError {
  const text = errorText(body);
  const detail = text ? `: ${text}` : '';
  if (status === 401) {
    return new QnbError('E_AUTH', `qdrant ${baseUrl}: ${op}: API key missing or rejected (401)`, {
      hint: 'set QDRANT_API_KEY to the server’s API key',
    });
  }
  if (status === 403) {
    return new QnbError('E_AUTH', `qdrant ${baseUrl}: ${op}: forbidden (403)${detail}`, {
      hint: 'use a manage (read-write) API key, not a read-only one',
    });
  }
  if (status === 404) return new NotFoundError(`qdrant ${baseUrl}: ${op}: not found${detail}`);
  if (/No space left on device|os error 28/i.test(text)) {
    return new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: the Qdrant server's disk is full${detail}`, {
      hint: 'free space on the Qdrant server (a snapshot needs about 2× the collection size)',
    });
  }
  return new QnbError('E_SERVER', `qdrant ${baseUrl}: ${op}: HTTP ${status}${detail}`, {
    retryable: status >= 500 || status === 429,
    hint: status >= 500 ? 'check the Qdrant server log' : undefined,
  });
}

/** A QnbError for a network failure (refused, reset, DNS, TLS). */
export function connectError(baseUrl: string, op: string, err: unknown): QnbError {
  let inner = err as { message?: string; cause?: unknown } | undefined;
  while (inner?.cause && typeof inner.cause === 'object') inner = inner.cause as typeof inner;
  const code = networkCode(err) ?? inner?.message ?? 'network error';
  const tls = /CERT|TLS/.test(code);
  return new QnbError('E_CONNECT', `qdrant ${baseUrl}: ${op}: cannot reach the server (${code})`, {
    cause: err,
    retryable: !tls,
    hint: tls
      ? 'check the server certificate, or NODE_EXTRA_CA_CERTS for a private CA'
      : 'is Qdrant running? check QDRANT_URL',
  });
}
