/**
 * The shape of qnb's configuration and how each key is named in each layer
 * (config file path, environment variable, command-line flag).
 */

import { parseDuration } from '../core/time.js';
import { parseIdentities, parseRecipients } from './age-keys.js';

/** Qdrant connection and backup settings. */
export interface QdrantConfig {
  /** Base URL of the Qdrant REST API. @default 'http://localhost:6333' */
  url: string;
  /** API key sent as the `api-key` header (manage key for restore). Secret. */
  apiKey: string | undefined;
  /** Collections to back up; empty = every collection on the server. @default [] */
  collections: string[];
  /** Keep the snapshot on the Qdrant server after downloading it. @default false */
  keepServerSnapshots: boolean;
  /**
   * Distributed Qdrant: the REST URL of every node (qnb maps each to its peer id via `/cluster`).
   * Empty on a single node. @default []
   */
  nodes: string[];
}

/** Neo4j connection settings (used by the Neo4j half of qnb). */
export interface Neo4jConfig {
  /** Bolt URI. @default 'bolt://localhost:7687' */
  uri: string;
  /** @default 'neo4j' */
  user: string;
  /** Secret. */
  password: string | undefined;
  /** @default 'neo4j' */
  database: string;
  /** @default 'dump' */
  mode: 'dump' | 'export';
  /** Docker container running Neo4j; unset = local install. */
  container: string | undefined;
  /** NEO4J_HOME of a local install. */
  home: string | undefined;
}

/** Automation: `schedule`, `install-cron`, `watch` and `status`. */
export interface AutomationConfig {
  /** Cron expression of `schedule` and `install-cron` (`schedule` also takes 6 fields with seconds). @default '0 2 * * *' */
  cron: string;
  /** IANA time zone of `schedule`; unset = the local zone. */
  timeZone: string | undefined;
  /** `watch`: quiet time that ends a burst of changes, in ms (config: a duration like `30s`). @default 30000 */
  debounce: number;
  /** `watch`: least time between two backups, in ms (config: a duration like `1h`). @default 3600000 */
  cooldown: number;
  /** `status`: a target whose last good backup is older is stale, in ms (config: `26h`). @default 93600000 */
  maxAge: number;
  /** The crontab program `install-cron` runs (`-l` to read, `-` to write). @default 'crontab' */
  crontab: string;
}

/** Monitoring hooks called around every backup-all (docs/automation.md). */
export interface MonitorConfig {
  /** Healthchecks-style URL: GET `URL/start`, `URL` on success, `URL/fail` on failure. Secret. */
  pingUrl: string | undefined;
  /** Receives a POST with a JSON summary after every run. Secret. */
  webhookUrl: string | undefined;
  /** Prometheus textfile (node_exporter textfile collector), rewritten atomically after every run. */
  prometheusFile: string | undefined;
}

/** S3-compatible storage for off-site copies (`qnb copy --to s3://bucket/prefix`). */
export interface S3Config {
  /** Endpoint of an S3-compatible server (Ceph, versitygw, MinIO, R2 …); unset = AWS. */
  endpoint: string | undefined;
  /** @default 'us-east-1' */
  region: string;
  /** Path-style URLs; unset = on when `endpoint` is set. */
  forcePathStyle: boolean | undefined;
  /** Secret. */
  accessKeyId: string | undefined;
  /** Secret. */
  secretAccessKey: string | undefined;
  /** Secret. */
  sessionToken: string | undefined;
  /** AWS profile (~/.aws/credentials) used when no keys are set. */
  profile: string | undefined;
  /** Multipart part size in MiB (≥ 5); memory ≈ (concurrency + 1) × part size. @default 8 */
  partSizeMb: number;
  /** Parts uploaded at once. @default 3 */
  concurrency: number;
}

/** Off-site copies. */
export interface CopyConfig {
  /** Default target of `qnb copy`: a folder or `s3://bucket/prefix`. */
  to: string | undefined;
  /** age recipients (public keys): when set, every copy is encrypted to them. */
  ageRecipients: string[] | undefined;
  /** age identities (secret keys) that decrypt encrypted copies on restore and verify. Secret. */
  ageIdentity: string[] | undefined;
}

/** The whole, validated, frozen configuration. */
export interface QnbConfig {
  /** Folder holding `qdrant/`, `neo4j/` and `sets/`. @default './backups' (resolved to absolute) */
  backupDir: string;
  /** Backups kept per target by retention. @default 5 */
  keepLast: number;
  qdrant: QdrantConfig;
  neo4j: Neo4jConfig;
  automation: AutomationConfig;
  monitor: MonitorConfig;
  s3: S3Config;
  copy: CopyConfig;
}

/** Where a value came from, for error messages and `doctor`. */
export type ConfigSource = 'default' | 'file' | 'env' | 'flag';

/** One settable key: its path in the config object and its names in each layer. */
export interface KeySpec {
  path: string;
  env?: string;
  flag?: string;
  secret?: boolean;
  /** Parses a raw string (env/flag) or value (file); throws a message on bad input. */
  parse: (raw: unknown) => unknown;
  /** How to fix a bad value, shown after the error. */
  fix: string;
}
function str(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  return raw.trim();
}

function httpUrl(raw: unknown): string {
  const s = str(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`"${s}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${s}" is not an http(s) URL`);
  return s.replace(/\/+$/, '');
}

function boltUrl(raw: unknown): string {
  const s = str(raw);
  const m = /^(bolt|neo4j)(\+s|\+ssc)?:\/\/[^/\s]+/.exec(s);
  if (!m) throw new Error(`"${s}" is not a bolt:// or neo4j:// URI`);
  return s;
}

function positiveInt(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : Number(str(raw));
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${String(raw)}" is not a whole number ≥ 1`);
  return n;
}

function bool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = str(raw).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new Error(`"${s}" is not true or false`);
}

function httpUrls(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw.flatMap((x) => String(x).split(',')) : str(raw).split(',');
  return [
    ...new Set(
      list
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map(httpUrl),
    ),
  ];
}

const COLLECTION_NAME = /^[^<>:"/\\|?*\0]{1,255}$/;

function collections(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw.map(String) : str(raw).split(',');
  const names = list.map((s) => s.trim()).filter((s) => s !== '' && s !== '*' && s.toLowerCase() !== 'all');
  for (const n of names) {
    if (!COLLECTION_NAME.test(n)) throw new Error(`"${n}" is not a valid Qdrant collection name`);
  }
  return [...new Set(names)];
}

function mode(raw: unknown): 'dump' | 'export' {
  const s = str(raw);
  if (s !== 'dump' && s !== 'export') throw new Error(`"${s}" is neither dump nor export`);
  return s;
}

function secret(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw new Error('must be a non-empty string');
  return raw;
}

function duration(raw: unknown): number {
  const s = str(raw);
  const ms = parseDuration(s);
  if (ms === undefined || ms <= 0) throw new Error(`"${s}" is not a duration`);
  return ms;
}

function timeZone(raw: unknown): string {
  const s = str(raw);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: s });
  } catch {
    throw new Error(`"${s}" is not a time zone`);
  }
  return s;
}

function partSizeMb(raw: unknown): number {
  const n = positiveInt(raw);
  if (n < 5 || n > 5120) throw new Error(`"${String(raw)}" is not between 5 and 5120`);
  return n;
}

/** A URL that may hold a token: errors never echo it. */
function secretUrl(raw: unknown): string {
  const s = secret(raw).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error('is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('is not an http(s) URL');
  return s.replace(/\/+$/, '');
}

/** Every key qnb reads, in one table: the single place that names env vars and flags. */
export const KEYS: readonly KeySpec[] = [
  {
    path: 'backupDir',
    env: 'QNB_BACKUP_DIR',
    flag: '--backup-dir',
    parse: str,
    fix: 'set it to a folder path, e.g. ./backups',
  },
  {
    path: 'keepLast',
    env: 'QNB_KEEP_LAST',
    flag: '--keep-last',
    parse: positiveInt,
    fix: 'use a whole number ≥ 1, e.g. 5',
  },
  {
    path: 'qdrant.url',
    env: 'QDRANT_URL',
    flag: '--qdrant-url',
    parse: httpUrl,
    fix: 'use a URL like http://localhost:6333',
  },
  {
    path: 'qdrant.apiKey',
    env: 'QDRANT_API_KEY',
    secret: true,
    parse: secret,
    fix: 'set the API key, or unset it when Qdrant has no key',
  },
  {
    path: 'qdrant.collections',
    env: 'QDRANT_COLLECTIONS',
    parse: collections,
    fix: 'use a comma-separated list of collection names, or leave it unset for all',
  },
  {
    path: 'qdrant.keepServerSnapshots',
    env: 'QNB_KEEP_SERVER_SNAPSHOTS',
    parse: bool,
    fix: 'use true or false',
  },
  {
    path: 'qdrant.nodes',
    env: 'QDRANT_NODE_URLS',
    flag: '--qdrant-node',
    parse: httpUrls,
    fix: 'use the REST URL of every Qdrant node, comma-separated, e.g. http://node1:6333,http://node2:6333',
  },
  { path: 'neo4j.uri', env: 'NEO4J_URI', parse: boltUrl, fix: 'use a URI like bolt://localhost:7687' },
  { path: 'neo4j.user', env: 'NEO4J_USER', parse: str, fix: 'set the Neo4j user name, e.g. neo4j' },
  {
    path: 'neo4j.password',
    env: 'NEO4J_PASSWORD',
    secret: true,
    parse: secret,
    fix: 'set the Neo4j password',
  },
  { path: 'neo4j.database', env: 'NEO4J_DATABASE', parse: str, fix: 'set the database name, e.g. neo4j' },
  { path: 'neo4j.mode', env: 'NEO4J_MODE', flag: '--neo4j-mode', parse: mode, fix: 'use dump or export' },
  {
    path: 'neo4j.container',
    env: 'NEO4J_CONTAINER',
    parse: str,
    fix: 'set the Docker container name, or unset it for a local install',
  },
  { path: 'neo4j.home', env: 'NEO4J_HOME', parse: str, fix: 'set it to the Neo4j installation folder' },
  {
    path: 'automation.cron',
    env: 'QNB_CRON',
    flag: '--cron',
    parse: str,
    fix: 'use a cron expression like "0 2 * * *" (minute hour day month weekday)',
  },
  {
    path: 'automation.timeZone',
    env: 'QNB_TZ',
    flag: '--tz',
    parse: timeZone,
    fix: 'use an IANA time zone like Europe/Berlin, or leave it unset for local time',
  },
  {
    path: 'automation.debounce',
    env: 'QNB_WATCH_DEBOUNCE',
    flag: '--debounce',
    parse: duration,
    fix: 'use a duration like 30s, 2m or 500ms',
  },
  {
    path: 'automation.cooldown',
    env: 'QNB_WATCH_COOLDOWN',
    flag: '--cooldown',
    parse: duration,
    fix: 'use a duration like 1h, 30m or 1h30m',
  },
  {
    path: 'automation.maxAge',
    env: 'QNB_MAX_AGE',
    flag: '--max-age',
    parse: duration,
    fix: 'use a duration like 26h, 2d or 90m',
  },
  {
    path: 'automation.crontab',
    env: 'QNB_CRONTAB',
    parse: str,
    fix: 'set it to the crontab program, e.g. /usr/bin/crontab',
  },
  {
    path: 'monitor.pingUrl',
    env: 'QNB_PING_URL',
    secret: true,
    parse: secretUrl,
    fix: 'use a URL like https://hc-ping.com/<uuid>',
  },
  {
    path: 'monitor.webhookUrl',
    env: 'QNB_WEBHOOK_URL',
    secret: true,
    parse: secretUrl,
    fix: 'use an http(s) URL that accepts a JSON POST',
  },
  {
    path: 'monitor.prometheusFile',
    env: 'QNB_PROMETHEUS_FILE',
    parse: str,
    fix: 'set it to a .prom file in the node_exporter textfile folder',
  },
  { path: 'copy.to', env: 'QNB_COPY_TO', parse: str, fix: 'use a folder path or s3://bucket/prefix' },
  {
    path: 'copy.ageRecipients',
    env: 'QNB_AGE_RECIPIENTS',
    parse: parseRecipients,
    fix: 'give age public keys (age1…), comma separated, or QNB_AGE_RECIPIENTS_FILE with one per line',
  },
  {
    path: 'copy.ageIdentity',
    env: 'QNB_AGE_IDENTITY',
    secret: true,
    parse: parseIdentities,
    fix: 'set QNB_AGE_IDENTITY_FILE to the key file age-keygen wrote',
  },
  {
    path: 's3.endpoint',
    env: 'QNB_S3_ENDPOINT',
    parse: httpUrl,
    fix: 'use the S3 server URL, e.g. http://127.0.0.1:7070, or unset it for AWS',
  },
  { path: 's3.region', env: 'QNB_S3_REGION', parse: str, fix: 'use a region name, e.g. us-east-1' },
  { path: 's3.forcePathStyle', env: 'QNB_S3_PATH_STYLE', parse: bool, fix: 'use true or false' },
  {
    path: 's3.accessKeyId',
    env: 'AWS_ACCESS_KEY_ID',
    secret: true,
    parse: secret,
    fix: 'set the S3 access key id',
  },
  {
    path: 's3.secretAccessKey',
    env: 'AWS_SECRET_ACCESS_KEY',
    secret: true,
    parse: secret,
    fix: 'set the S3 secret access key',
  },
  {
    path: 's3.sessionToken',
    env: 'AWS_SESSION_TOKEN',
    secret: true,
    parse: secret,
    fix: 'set the session token of temporary credentials, or unset it',
  },
  { path: 's3.profile', env: 'AWS_PROFILE', parse: str, fix: 'set a profile name from ~/.aws/credentials' },
  {
    path: 's3.partSizeMb',
    env: 'QNB_S3_PART_SIZE_MB',
    parse: partSizeMb,
    fix: 'use a whole number of MiB ≥ 5, e.g. 8',
  },
  {
    path: 's3.concurrency',
    env: 'QNB_S3_CONCURRENCY',
    parse: positiveInt,
    fix: 'use a whole number ≥ 1, e.g. 4',
  },
];

/** Defaults, before any layer. */
export function defaultConfig(): QnbConfig {
  return {
    backupDir: './backups',
    keepLast: 5,
    qdrant: {
      url: 'http://localhost:6333',
      apiKey: undefined,
      collections: [],
      keepServerSnapshots: false,
      nodes: [],
    },
    neo4j: {
      uri: 'bolt://localhost:7687',
      user: 'neo4j',
      password: undefined,
      database: 'neo4j',
      mode: 'dump',
      container: undefined,
      home: undefined,
    },
    automation: {
      cron: '0 2 * * *',
      timeZone: undefined,
      debounce: 30_000,
      cooldown: 3_600_000,
      maxAge: 26 * 3_600_000,
      crontab: 'crontab',
    },
    monitor: { pingUrl: undefined, webhookUrl: undefined, prometheusFile: undefined },
    s3: {
      endpoint: undefined,
      region: 'us-east-1',
      forcePathStyle: undefined,
      accessKeyId: undefined,
      secretAccessKey: undefined,
      sessionToken: undefined,
      profile: undefined,
      partSizeMb: 8,
      concurrency: 3,
    },
    copy: { to: undefined, ageRecipients: undefined, ageIdentity: undefined },
  };
}
