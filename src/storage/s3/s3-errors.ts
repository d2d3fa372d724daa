/**
 * Maps what the AWS SDK throws to one clear QnbError: the object, what went wrong, what to do.
 * Secrets never appear here (the SDK's messages hold none; the CLI redacts anyway).
 */
import { InterruptedError, isAbort, NotFoundError, QnbError } from '../../core/errors.js';

/** What the failing call was about, for the message. */
export interface S3ErrorContext {
  /** `s3://bucket/prefix`, plus ` (endpoint)` for a custom endpoint. */
  location: string;
  bucket: string;
  /** `list sets/`, `put qdrant/x.snapshot`, … */
  op: string;
  signal?: AbortSignal;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** The first non-undefined `pick` of the error or of its causes (the SDK wraps Node's errors). */
function inCauses<T>(e: SdkError, pick: (cur: SdkError) => T | undefined): T | undefined {
  for (let cur: SdkError | undefined = e, i = 0; cur && i < 4; cur = cur.cause as SdkError, i++) {
    const got = pick(cur);
    if (got !== undefined) return got;
  }
  return undefined;
}

const networkCode = (e: SdkError): string | undefined =>
  inCauses(e, (cur) =>
    cur.code && NETWORK_CODES.has(cur.code) ? cur.code : cur.name === 'TimeoutError' ? 'timeout' : undefined,
  );

/** A TLS failure's code (an untrusted or expired certificate, a name that does not match), if any. */
const tlsCode = (e: SdkError): string | undefined =>
  inCauses(e, (cur) => (cur.code && /CERT|TLS|SSL/.test(cur.code) ? cur.code : undefined));

/** A QnbError for anything an S3 call threw. */
export function s3Error(err: unknown, ctx: S3ErrorContext): QnbError {
  if (err instanceof QnbError) return err;
  if (isAbort(err, ctx.signal)) return new InterruptedError();
  const e = (err ?? {}) as SdkError;
  const code = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const tls = tlsCode(e);
  if (tls) {
    // asking again cannot help: not retried, and not "the server had a problem"
    return new QnbError(
      'E_CONNECT',
      `${ctx.location}: ${ctx.op}: the server's TLS certificate was refused (${tls})`,
      {
        hint: 'check QNB_S3_ENDPOINT; for a private CA, set NODE_EXTRA_CA_CERTS to its PEM file',
        cause: err,
      },
    );
  }
  const net = networkCode(e);
  if (net) {
    return new QnbError('E_CONNECT', `${ctx.location}: ${ctx.op}: cannot reach the server (${net})`, {
      hint: 'is the S3 server running? check QNB_S3_ENDPOINT',
      retryable: true,
      cause: err,
    });
  }
  switch (code) {
    case 'NoSuchBucket':
      return new NotFoundError(
        `s3://${ctx.bucket}: bucket not found`,
        'create the bucket first, or fix the bucket name in s3://BUCKET/prefix (and QNB_S3_ENDPOINT)',
      );
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'AuthorizationHeaderMalformed':
      return new QnbError('E_AUTH', `${ctx.location}: credentials rejected (${code})`, {
        hint: 'check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and QNB_S3_REGION)',
        cause: err,
      });
    case 'AccessDenied':
    case 'AllAccessDisabled':
      return new QnbError('E_AUTH', `${ctx.location}: ${ctx.op}: access denied`, {
        hint: 'the key needs s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on this bucket and prefix',
        cause: err,
      });
    case 'BadDigest':
    case 'InvalidDigest':
    case 'XAmzContentSHA256Mismatch':
    case 'XAmzContentChecksumMismatch':
    case 'InvalidChecksum':
      return new QnbError(
        'E_CHECKSUM',
        `${ctx.location}: ${ctx.op}: the server received different bytes than were sent (${code})`,
        { hint: 'a network or proxy corrupted the upload; run the copy again', retryable: true, cause: err },
      );
    case 'QuotaExceeded':
    case 'EntityTooLarge':
      return new QnbError('E_IO', `${ctx.location}: ${ctx.op}: ${code}`, {
        hint: 'free space on the target (`qnb prune --remote`) or raise its quota',
        cause: err,
      });
  }
  if (status === 403)
    return new QnbError('E_AUTH', `${ctx.location}: ${ctx.op}: forbidden (403)`, {
      hint: 'check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket policy',
      cause: err,
    });
  const retryable = status === undefined || status >= 500 || status === 429;
  const what = code && code !== 'Error' && code !== 'UnknownError' ? code : `HTTP ${status ?? '?'}`;
  return new QnbError('E_SERVER', `${ctx.location}: ${ctx.op}: the server answered ${what}`, {
    ...(retryable ? { hint: 'the server had a problem; try again later' } : {}),
    retryable,
    cause: err,
  });
}

/** True for a 404 without a body (HEAD of a missing key). */
export function isNotFound(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  return (
    e.name === 'NotFound' ||
    e.name === 'NoSuchKey' ||
    (e.$metadata?.httpStatusCode === 404 && e.name !== 'NoSuchBucket')
  );
}
