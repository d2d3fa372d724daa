/**
 * One error type for everything qnb reports to a user. The CLI maps `code` to an exit status
 * (see `cli/exit-codes.ts`) and prints `message` plus `hint` on one line each; it never prints a
 * stack trace for a `QnbError` unless it is an `InternalError` (a bug).
 */

/** String error codes, stable across versions (used by `--json` output and library callers). */
export type ErrorCode =
  | 'E_CONFIG' // invalid configuration or flags
  | 'E_USAGE' // a command was called the wrong way
  | 'E_REFUSED' // an operation needs --yes or --force
  | 'E_NOT_FOUND' // a collection, file, set or container does not exist
  | 'E_CONNECT' // a server cannot be reached
  | 'E_AUTH' // credentials rejected
  | 'E_SERVER' // a server answered with an error
  | 'E_CHECKSUM' // bytes do not match the expected sha256 / size
  | 'E_VERIFY' // a restored or re-hashed artifact does not match the manifest
  | 'E_LOCKED' // another qnb run holds the lock
  | 'E_IO' // local file system error (full disk, permissions)
  | 'E_INTERRUPTED' // SIGINT / SIGTERM
  | 'E_PARTIAL' // some targets succeeded, some failed
  | 'E_UNSUPPORTED' // the target cannot do what was asked
  | 'E_INTERNAL'; // a bug in qnb

export interface QnbErrorOptions {
  /** What the user can do about it, one sentence. */
  hint?: string;
  cause?: unknown;
  /** True when the same call may succeed if tried again (network hiccups, 5xx). */
  retryable?: boolean;
}

/** The error every qnb operation throws for a problem a user can act on. */
export class QnbError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: QnbErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'QnbError';
    this.code = code;
    this.hint = options.hint;
    this.retryable = options.retryable ?? false;
  }
}

/** Invalid configuration, flags or environment: raised before anything is touched. */
export class ConfigError extends QnbError {
  constructor(message: string, hint?: string) {
    super('E_CONFIG', message, { hint });
    this.name = 'ConfigError';
  }
}

/** A collection, file, backup set or container that does not exist. */
export class NotFoundError extends QnbError {
  constructor(message: string, hint?: string) {
    super('E_NOT_FOUND', message, { hint });
    this.name = 'NotFoundError';
  }
}

/** Another qnb process holds the repository lock. */
export class LockedError extends QnbError {
  constructor(message: string, hint?: string) {
    super('E_LOCKED', message, { hint });
    this.name = 'LockedError';
  }
}

/** Bytes, counts or records do not match what the manifest recorded. */
export class VerificationError extends QnbError {
  constructor(message: string, hint?: string) {
    super('E_VERIFY', message, { hint });
    this.name = 'VerificationError';
  }
}

/** A bug: printed with its stack so it can be reported. */
export class InternalError extends QnbError {
  constructor(message: string, cause?: unknown) {
    super('E_INTERNAL', message, { cause });
    this.name = 'InternalError';
  }
}

/** Thrown when the operation's AbortSignal fires (SIGINT/SIGTERM). */
export class InterruptedError extends QnbError {
  constructor(message = 'interrupted') {
    super('E_INTERRUPTED', message);
    this.name = 'InterruptedError';
  }
}

/**
 * A safety backup taken by a restore itself, right before it overwrites (a Neo4j dump: one stop
 * for the safety dump and the load), failed: nothing was overwritten. Carries the failure's code.
 */
export class SafetyBackupError extends QnbError {
  constructor(failure: QnbError) {
    super(failure.code, failure.message, { hint: failure.hint, cause: failure });
    this.name = 'SafetyBackupError';
  }
}

/** Throws `InterruptedError` when the signal has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new InterruptedError();
}

/** True for errors caused by an abort, whichever library raised them. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (err instanceof InterruptedError) return true;
  if (signal?.aborted) return true;
  const name = (err as { name?: string } | null)?.name;
  return name === 'AbortError';
}

/** Wraps anything thrown into a QnbError (unknown errors become InternalError). */
export function toQnbError(err: unknown, signal?: AbortSignal): QnbError {
  if (err instanceof QnbError) return err;
  if (isAbort(err, signal)) return new InterruptedError();
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.syscall === 'string') {
    return ioError(e, e.path ?? '');
  }
  return new InternalError(e instanceof Error ? e.message : String(err), err);
}

/** Maps a Node.js file system error to a QnbError naming the path and the fix. */
export function ioError(err: NodeJS.ErrnoException, path: string): QnbError {
  switch (err.code) {
    case 'ENOSPC':
      return new QnbError('E_IO', `${path}: no space left on device`, {
        hint: 'free disk space or set QNB_BACKUP_DIR to a larger disk',
        cause: err,
      });
    case 'EACCES':
    case 'EPERM':
      return new QnbError('E_IO', `${path}: permission denied`, {
        hint: 'check the owner and mode of the backups folder',
        cause: err,
      });
    case 'ENOENT':
      return new NotFoundError(`${path}: no such file or directory`);
    case 'EROFS':
      return new QnbError('E_IO', `${path}: read-only file system`, { cause: err });
    default:
      return new QnbError('E_IO', `${path}: ${err.code ?? 'I/O error'}: ${err.message}`, { cause: err });
  }
}

/** True when `err`, or an error it was caused by, is ENOSPC (the file system is full). */
export function isNoSpace(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 8; e = (e as Error).cause, depth++)
    if ((e as NodeJS.ErrnoException).code === 'ENOSPC') return true;
  return false;
}

/** Joins a cleanup failure to the main error so neither is lost. */
export function joinCleanupError(main: unknown, cleanup: unknown): unknown {
  if (main instanceof Error && cleanup) {
    const msg = cleanup instanceof Error ? cleanup.message : String(cleanup);
    main.message = `${main.message} (cleanup also failed: ${msg})`;
  }
  return main;
}
