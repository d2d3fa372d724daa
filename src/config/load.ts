/**
 * Loads configuration in layers — defaults < config file < environment < flags — into one
 * validated, frozen object that remembers where each value came from (c12-style layers).
 * `process.env` is read here and nowhere else in qnb.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { lilconfigSync } from 'lilconfig';
import { z } from 'zod';
import { ConfigError } from '../core/errors.js';
import { type ConfigSource, defaultConfig, KEYS, type KeySpec, type QnbConfig } from './schema.js';

/** A loaded configuration plus the origin of each key and the secret values to redact. */
export interface LoadedConfig {
  config: Readonly<QnbConfig>;
  sources: Readonly<Record<string, ConfigSource>>;
  /** The file the config came from, if any. */
  file: string | undefined;
  /** Secret values (API keys, passwords) that every display must redact. */
  secrets: readonly string[];
}

export interface LoadConfigOptions {
  /** Explicit config file (`--config FILE`); when set, it must exist. */
  configFile?: string;
  /** Flag values by flag name, e.g. `{ '--qdrant-url': 'http://…' }`; undefined = not given. */
  flags?: Record<string, unknown>;
  /** Environment; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Folder to search for qnb.config.*; defaults to process.cwd(). */
  cwd?: string;
}

const FILE_NAMES = ['qnb.config.json', 'qnb.config.yaml', 'qnb.config.yml'];

/** The YAML parser, loaded only when a YAML config file exists (start-up time of every command). */
function parseYaml(text: string): unknown {
  return (createRequire(import.meta.url)('yaml') as typeof import('yaml')).parse(text);
}

const fileSchema = z
  .object({
    backupDir: z.unknown().optional(),
    keepLast: z.unknown().optional(),
    qdrant: z
      .object({
        url: z.unknown().optional(),
        apiKey: z.unknown().optional(),
        collections: z.unknown().optional(),
        keepServerSnapshots: z.unknown().optional(),
      })
      .strict()
      .optional(),
    neo4j: z
      .object({
        uri: z.unknown().optional(),
        user: z.unknown().optional(),
        password: z.unknown().optional(),
        database: z.unknown().optional(),
        mode: z.unknown().optional(),
        container: z.unknown().optional(),
        home: z.unknown().optional(),
      })
      .strict()
      .optional(),
    automation: z
      .object({
        cron: z.unknown().optional(),
        timeZone: z.unknown().optional(),
        debounce: z.unknown().optional(),
        cooldown: z.unknown().optional(),
        maxAge: z.unknown().optional(),
        crontab: z.unknown().optional(),
      })
      .strict()
      .optional(),
    monitor: z
      .object({
        pingUrl: z.unknown().optional(),
        webhookUrl: z.unknown().optional(),
        prometheusFile: z.unknown().optional(),
      })
      .strict()
      .optional(),
    s3: z
      .object({
        endpoint: z.unknown().optional(),
        region: z.unknown().optional(),
        forcePathStyle: z.unknown().optional(),
        accessKeyId: z.unknown().optional(),
        secretAccessKey: z.unknown().optional(),
        sessionToken: z.unknown().optional(),
        profile: z.unknown().optional(),
        partSizeMb: z.unknown().optional(),
        concurrency: z.unknown().optional(),
      })
      .strict()
      .optional(),
    copy: z
      .object({
        to: z.unknown().optional(),
        ageRecipients: z.unknown().optional(),
        ageIdentity: z.unknown().optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

function readConfigFile(opts: LoadConfigOptions): {
  data: Record<string, unknown>;
  file: string | undefined;
} {
  const cwd = opts.cwd ?? process.cwd();
  const loaders = {
    '.yaml': (_: string, c: string) => parseYaml(c),
    '.yml': (_: string, c: string) => parseYaml(c),
  };
  let found: { config: unknown; filepath: string } | null;
  try {
    if (opts.configFile) {
      const file = resolve(cwd, opts.configFile);
      try {
        readFileSync(file);
      } catch {
        throw new ConfigError(
          `--config ${opts.configFile}: file not found`,
          'pass the path of an existing qnb.config.json or .yaml',
        );
      }
      found = lilconfigSync('qnb', { loaders }).load(file);
    } else {
      found = lilconfigSync('qnb', { searchPlaces: FILE_NAMES, stopDir: cwd, loaders }).search(cwd);
    }
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const where = opts.configFile ?? 'qnb.config';
    throw new ConfigError(
      `${where}: cannot parse: ${(err as Error).message.split('\n')[0]}`,
      'fix the JSON/YAML syntax',
    );
  }
  if (!found) return { data: {}, file: undefined };
  const parsed = fileSchema.safeParse(found.config ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const keys = 'keys' in issue ? (issue.keys as string[]) : [];
    const at = [...issue.path.map(String), ...keys].join('.');
    throw new ConfigError(
      `${found.filepath}: unknown or misplaced key "${at}"`,
      'known keys: backupDir, keepLast, qdrant.{url,apiKey,collections,keepServerSnapshots}, neo4j.{uri,user,password,database,mode,container,home}, automation.{cron,timeZone,debounce,cooldown,maxAge,crontab}, monitor.{pingUrl,webhookUrl,prometheusFile}, s3.{endpoint,region,forcePathStyle,accessKeyId,secretAccessKey,sessionToken,profile,partSizeMb,concurrency}, copy.{to,ageRecipients,ageIdentity}',
    );
  }
  return { data: parsed.data as Record<string, unknown>, file: found.filepath };
}

function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function setPath(obj: object, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj as Record<string, unknown>;
  for (const part of parts.slice(0, -1)) cur = cur[part] as Record<string, unknown>;
  cur[parts.at(-1)!] = value;
}

function apply(key: KeySpec, raw: unknown, name: string, target: QnbConfig): void {
  try {
    setPath(target, key.path, key.parse(raw));
  } catch (err) {
    throw new ConfigError(`${name}: ${(err as Error).message}`, key.fix);
  }
}

/** Reads a secret from `NAME_FILE` when `NAME` is unset (Docker/Kubernetes secrets). */
function envValue(env: NodeJS.ProcessEnv, name: string): { raw: string; name: string } | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== '') return { raw: direct, name };
  const file = env[`${name}_FILE`];
  if (file === undefined || file === '') return undefined;
  try {
    return { raw: readFileSync(file, 'utf8').replace(/\r?\n$/, ''), name: `${name}_FILE` };
  } catch {
    throw new ConfigError(
      `${name}_FILE: cannot read ${file}`,
      'point it at a readable file holding the secret',
    );
  }
}

/** Loads, merges and validates configuration. Throws ConfigError naming the key and the fix. */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const config = defaultConfig();
  const sources: Record<string, ConfigSource> = {};
  for (const key of KEYS) sources[key.path] = 'default';
  const { data, file } = readConfigFile(opts);
  for (const key of KEYS) {
    const fromFile = getPath(data, key.path);
    if (fromFile !== undefined && fromFile !== null) {
      apply(key, fromFile, `${file}: ${key.path}`, config);
      sources[key.path] = 'file';
    }
    const fromEnv = key.env ? envValue(env, key.env) : undefined;
    if (fromEnv) {
      apply(key, fromEnv.raw, fromEnv.name, config);
      sources[key.path] = 'env';
    }
    const fromFlag = key.flag ? opts.flags?.[key.flag] : undefined;
    if (fromFlag !== undefined) {
      apply(key, fromFlag, key.flag!, config);
      sources[key.path] = 'flag';
    }
  }
  config.backupDir = resolve(opts.cwd ?? process.cwd(), config.backupDir);
  const secrets = [
    config.qdrant.apiKey,
    config.neo4j.password,
    config.monitor.pingUrl,
    config.monitor.webhookUrl,
    config.s3.accessKeyId,
    config.s3.secretAccessKey,
    config.s3.sessionToken,
    ...(config.copy.ageIdentity ?? []),
  ].filter((s): s is string => !!s);
  return {
    config: deepFreeze(config),
    sources: Object.freeze(sources),
    file,
    secrets: Object.freeze(secrets),
  };
}

function deepFreeze<T extends object>(obj: T): Readonly<T> {
  for (const v of Object.values(obj)) if (v && typeof v === 'object') deepFreeze(v as object);
  return Object.freeze(obj);
}
