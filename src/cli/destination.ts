/**
 * Copy destinations on the command line: the folder or `s3://bucket/prefix` named by `--to`,
 * `--copy-to`, `--from` or `--remote` (or QNB_COPY_TO), opened as a storage backend. The S3 SDK
 * loads only for s3:// destinations.
 */
import type { QnbConfig } from '../config/schema.js';
import { ConfigError } from '../core/errors.js';
import type { CopyBackend } from '../storage/backend.js';
import { openCopyBackend, parseDestination, type S3Settings } from '../storage/registry.js';
import type { CommandContext } from './io.js';

/** The S3 part of the configuration, as the backend takes it. */
export function s3SettingsFrom(config: Readonly<QnbConfig>): S3Settings {
  const s = config.s3;
  return {
    endpoint: s.endpoint,
    region: s.region,
    forcePathStyle: s.forcePathStyle,
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    sessionToken: s.sessionToken,
    profile: s.profile,
    partSize: s.partSizeMb * 1024 * 1024,
    concurrency: s.concurrency,
  };
}

/** Opens the destination named by a flag (or QNB_COPY_TO when the flag has no value). */
export async function openDestination(
  ctx: CommandContext,
  raw: string | undefined,
  flag: string,
): Promise<CopyBackend> {
  const value = raw ?? ctx.loaded.config.copy.to;
  if (!value)
    throw new ConfigError(
      `${flag}: no copy target given`,
      `pass ${flag} DIR or ${flag} s3://bucket/prefix, or set QNB_COPY_TO`,
    );
  return openCopyBackend(parseDestination(value, ctx.io.cwd), s3SettingsFrom(ctx.loaded.config));
}

/** Opens the destination of `--copy-to` when one is given. */
export async function openCopyTo(
  ctx: CommandContext,
  raw: string | undefined,
): Promise<CopyBackend | undefined> {
  return raw ? openDestination(ctx, raw, '--copy-to') : undefined;
}

/** The line a `--from` restore prints for each file it brought back. */
export const fetchedLine = (f: { file: string; fetched: boolean }, from: string) =>
  f.fetched
    ? `   Fetched: ${f.file} from ${from} (sha256 verified against the copy's manifest)`
    : `   Fetched: nothing (${f.file} was already in the backups folder, same sha256)`;
