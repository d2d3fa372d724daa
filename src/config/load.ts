/**
 * Loads configuration in layers — defaults < config file < environment < flags — into one
 * validated, frozen object that remembers where each value came from (c12-style layers).
 * `process.env` is read here and nowhere else in qnb.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { lilconfigSync } from 'lilconfig';
import { ConfigError } from '../core/errors.js';
import { KEYS } from './keys.js';
import { type ConfigSource, defaultConfig, type KeySpec, type QnbConfig } from './schema.js';

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

/** Keys a config file may hold per section (from the one KEYS table); values are checked by KEYS afterwards. */
const FILE_SECTIONS: Record<string, readonly string[]> = {};
for (const { path } of KEYS) {
  const [section, key] = path.split('.');
  if (key) FILE_SECTIONS[section!] = [...(FILE_SECTIONS[section!] ?? []), key];
}
const FILE_TOP_KEYS = KEYS.map((k) => k.path.split('.')[0]!);

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The first key of a config file's data that qnb does not know, dotted (`qdrant.ulr`); `''`
 * when the file is not an object; undefined when every key is known.
 */
function unknownFileKey(data: unknown): string | undefined {
  if (!isRecord(data)) return '';
  for (const [section, keys] of Object.entries(FILE_SECTIONS)) {
    const value = data[section];
    if (value === undefined) continue;
    if (!isRecord(value)) return section;
    const extra = Object.keys(value).filter((k) => !keys.includes(k));
    if (extra.length > 0) return [section, ...extra].join('.');
  }
  const extra = Object.keys(data).filter((k) => !FILE_TOP_KEYS.includes(k));
  return extra.length > 0 ? extra.join('.') : undefined;
}

/**
 * Where a config file fails to parse, without quoting it: the parsers' own messages show the text
 * around the error, which may be a password (an unquoted value). JSON: the line and column where
 * a prefix of the text stops being a valid start; YAML: the parser's line, column and code.
 */
function parseErrorPlace(err: unknown, cwd: string, configFile: string | undefined): string {
  const e = err as {
    name?: string;
    code?: string;
    linePos?: { line: number; col: number }[];
    syscall?: string;
  };
  // the file could not be read (EACCES, EISDIR): the system's message quotes nothing of it
  if (e.syscall) return `cannot read: ${(err as Error).message}`;
  if (e.name === 'YAMLParseError')
    return e.linePos?.[0]
      ? `cannot parse: not valid YAML (${e.code ?? 'syntax'}) at line ${e.linePos[0].line}, column ${e.linePos[0].col}`
      : `cannot parse: not valid YAML (${e.code ?? 'syntax'})`;
  const file = configFile
    ? resolve(cwd, configFile)
    : FILE_NAMES.map((n) => resolve(cwd, n)).find(existsSync);
  let text: string;
  try {
    text = file ? readFileSync(file, 'utf8') : '';
  } catch {
    return 'cannot parse: not valid JSON';
  }
  // the longest prefix JSON.parse only finds unfinished is where the error starts
  const fine = (n: number) => {
    try {
      JSON.parse(text.slice(0, n));
      return true;
    } catch (x) {
      // V8 says "Unexpected end", or names a position: at the end of the prefix, it is unfinished
      const m = (x as Error).message;
      const at = /at position (\d+)/.exec(m);
      return /Unexpected end of JSON input/.test(m) || (at !== null && Number(at[1]) >= n);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fine(mid)) lo = mid;
    else hi = mid - 1;
  }
  if (lo >= text.length) return 'cannot parse: not valid JSON: the file ends before the value does';
  const before = text.slice(0, lo + 1).split('\n');
  return `cannot parse: not valid JSON at line ${before.length}, column ${before.at(-1)!.length}`;
}

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
      `${where}: ${parseErrorPlace(err, cwd, opts.configFile)}`,
      'fix the JSON/YAML syntax',
    );
  }
  if (!found) return { data: {}, file: undefined };
  const data = found.config ?? {};
  const unknown = unknownFileKey(data);
  if (unknown !== undefined) {
    const known = Object.entries(FILE_SECTIONS).map(([section, keys]) => `${section}.{${keys.join(',')}}`);
    throw new ConfigError(
      `${found.filepath}: unknown or misplaced key "${unknown}"`,
      `known keys: backupDir, keepLast, ${known.join(', ')}`,
    );
  }
  return { data: data as Record<string, unknown>, file: found.filepath };
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

function apply(key: KeySpec, raw: unknown, name: string, into: QnbConfig): void {
  try {
    setPath(into, key.path, key.parse(raw));
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
  // neo4j, neo4j-admin and docker run with this environment (a copy: the config is frozen)
  config.neo4j.env = { ...env };
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
