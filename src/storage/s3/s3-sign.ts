/**
 * AWS Signature Version 4 for one S3 GET with headers (no query, no body), as the raw-socket
 * download sends it (s3-fast-get.ts). Checked against AWS's published example ("GET Object" in
 * "Signature Calculations for the Authorization Header") by a unit test, and by the S3 tests'
 * real server, which verifies every request. The secret never leaves this function: only the
 * signature goes on the wire.
 */
import { createHash, createHmac } from 'node:crypto';

/** Keys to sign with. */
export interface SigningKeys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** sha256 of the empty payload (a GET's body). */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text).digest();

/** RFC 3986 encoding of each path segment, as S3 wants it (slashes kept, no double encoding). */
export function s3Path(bucket: string, key: string): string {
  const enc = (s: string) =>
    encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `/${enc(bucket)}/${key.split('/').map(enc).join('/')}`;
}

/** `20130524T000000Z` */
export function amzDate(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/**
 * The headers of a signed `GET path` to `host`: `headers` plus x-amz-date, x-amz-content-sha256,
 * the session token when there is one, and Authorization. Header names are lower-cased.
 */
export function signGet(req: {
  host: string;
  path: string;
  headers: Record<string, string>;
  region: string;
  keys: SigningKeys;
  now: Date;
}): Record<string, string> {
  const date = amzDate(req.now);
  const day = date.slice(0, 8);
  const headers: Record<string, string> = { host: req.host };
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v.trim();
  headers['x-amz-content-sha256'] = EMPTY_SHA256;
  headers['x-amz-date'] = date;
  if (req.keys.sessionToken) headers['x-amz-security-token'] = req.keys.sessionToken;
  const names = Object.keys(headers).sort();
  const signed = names.join(';');
  const canonical = [
    'GET',
    req.path,
    '',
    ...names.map((n) => `${n}:${headers[n]}`),
    '',
    signed,
    EMPTY_SHA256,
  ].join('\n');
  const scope = `${day}/${req.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join(
    '\n',
  );
  let key = hmac(`AWS4${req.keys.secretAccessKey}`, day);
  for (const part of [req.region, 's3', 'aws4_request']) key = hmac(key, part);
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  const { host: _host, ...rest } = headers;
  return {
    ...rest,
    authorization: `AWS4-HMAC-SHA256 Credential=${req.keys.accessKeyId}/${scope}, SignedHeaders=${signed}, Signature=${signature}`,
  };
}
