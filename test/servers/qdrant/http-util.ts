/**
 * HTTP helpers: Qdrant's JSON envelopes, errors with Qdrant's status codes, body reading.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error answered with Qdrant's JSON error envelope (or plain text for auth failures). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly plainText = false,
  ) {
    super(message);
  }
}

/** 400 "Wrong input: …" (StorageError::BadInput). */
export const badInput = (m: string) => new HttpError(400, `Wrong input: ${m}`);
/** 400 "Bad request: …" (StorageError::BadRequest). */
export const badRequest = (m: string) => new HttpError(400, `Bad request: ${m}`);
/** 404 "Not found: …". */
export const notFound = (m: string) => new HttpError(404, `Not found: ${m}`);
/** 409 already exists (Qdrant prints it as "Wrong input: …"). */
export const alreadyExists = (m: string) => new HttpError(409, `Wrong input: ${m}`);
/** 403 "Forbidden: …" as a JSON envelope (access checks inside handlers). */
export const forbidden = (m: string) => new HttpError(403, `Forbidden: ${m}`);
/** 500 "Service internal error: …". */
export const serviceError = (m: string) => new HttpError(500, `Service internal error: ${m}`);
/** 400 deserialisation error, as actix-web-validator words it. */
export const formatError = (where: 'JSON body' | 'query parameters', m: string) =>
  new HttpError(
    400,
    where === 'JSON body' ? `Format error in JSON body: ${m}` : `Deserialize error in ${where}: ${m}`,
  );
/** 422 validation error, as actix-web-validator words it. */
export const validationError = (where: 'JSON body' | 'query parameters' | 'path parameters', m: string) =>
  new HttpError(422, `Validation error in ${where}: [${m}]`);

/** Seconds since `start` (a performance.now() value), like Qdrant's `time`. */
export function elapsed(start: number): number {
  return (performance.now() - start) / 1000;
}

/** Send a JSON body with an exact Content-Length. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
}

/** `{"result":…,"status":"ok","time":…}` (result omitted when undefined, like Qdrant). */
export function sendOk(res: ServerResponse, start: number, result: unknown): void {
  const body: Record<string, unknown> = {};
  if (result !== undefined && result !== null) body.result = result;
  body.status = 'ok';
  body.time = elapsed(start);
  sendJson(res, 200, body);
}

/** 202 `{"status":"accepted","time":…}`. */
export function sendAccepted(res: ServerResponse, start: number): void {
  sendJson(res, 202, { status: 'accepted', time: elapsed(start) });
}

/** Plain text body (auth failures, /healthz). */
export function sendText(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(text);
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': buf.length });
  res.end(buf);
}

/** Send an error: JSON envelope `{"status":{"error":…},"time":…}` or plain text. */
export function sendError(res: ServerResponse, start: number, err: HttpError): void {
  if (err.plainText) sendText(res, err.status, err.message);
  else sendJson(res, err.status, { status: { error: err.message }, time: elapsed(start) });
}

/** Read the whole request body (JSON requests only; limited like max_request_size_mb). */
export async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit)
      throw badRequest(`JSON payload (${size} bytes) is larger than allowed (limit: ${limit} bytes).`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parse a JSON request body; an empty body counts as `{}` (lenient, see report). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const buf = await readBody(req);
  const text = buf.toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw formatError('JSON body', (e as Error).message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw formatError('JSON body', 'invalid type: expected struct');
  }
  return value as Record<string, unknown>;
}

/** Read and discard the rest of a request body (so the client can finish sending). */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded || req.destroyed) return;
  await new Promise<void>((resolve) => {
    req.on('end', resolve);
    req.on('error', () => resolve());
    req.on('close', () => resolve());
    req.resume();
  });
}

/** Parse a boolean query parameter (`wait`), default `def`; 400 like serde on bad values. */
export function boolParam(query: Record<string, string>, name: string, def: boolean): boolean {
  const v = query[name];
  if (v === undefined) return def;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw formatError('query parameters', `${name}: provided string was not \`true\` or \`false\``);
}

/** Valid snapshot priorities. */
export const PRIORITIES = ['no_sync', 'snapshot', 'replica'] as const;

/** Validate a `priority` value (query or JSON); 400 on unknown variants. */
export function checkPriority(v: unknown, where: 'JSON body' | 'query parameters'): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' && (PRIORITIES as readonly string[]).includes(v)) return v;
  throw formatError(
    where,
    `priority: unknown variant \`${String(v)}\`, expected one of \`no_sync\`, \`snapshot\`, \`replica\``,
  );
}

/** Validate a sha256 `checksum` (exactly 64 hex chars); 422 otherwise. */
export function checkChecksum(v: unknown, where: 'JSON body' | 'query parameters'): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw formatError(where, 'checksum: invalid type, expected a string');
  if (!/^[0-9a-fA-F]{64}$/.test(v.trim())) {
    throw validationError(where, 'checksum: invalid SHA256 hash, expected 64 hexadecimal characters');
  }
  return v;
}

/** Compare sha256 hex strings like Qdrant: case-insensitive, ignoring whitespace. */
export function hashesEqual(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/\s+/g, '').toLowerCase();
  return norm(a) === norm(b);
}

/** Resolve after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
