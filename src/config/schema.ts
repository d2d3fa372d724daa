/**
 * The shape of qnb's configuration and its defaults. How each key is named in each layer (config
 * file path, environment variable, command-line flag) is in keys.ts; how raw values are read, in
 * values.ts.
 */

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
  /**
   * Collections in flight at once in a backup of several: the next snapshots are created on the
   * server while the current one downloads (1 = one after another). @default 2
   */
  snapshotsInFlight: number;
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
  /**
   * Environment of the `neo4j`, `neo4j-admin` and `docker` processes qnb starts (PATH, JAVA_HOME,
   * DOCKER_HOST, NEO4J_CONF…); loadConfig sets the environment it read. Unset: docker gets qnb's
   * own, a local install only NEO4J_HOME and NEO4J_CONF.
   */
  env?: Readonly<Record<string, string | undefined>>;
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
  /** Default destination of `qnb copy`: a folder or `s3://bucket/prefix`. */
  to: string | undefined;
  /** age recipients (public keys): when set, every copy is encrypted to them. */
  ageRecipients: string[] | undefined;
  /** age identities (secret keys) that decrypt encrypted copies on restore and verify. Secret. */
  ageIdentity: string[] | undefined;
}

/**
 * A link between the stores (docs/consistency.md): a Qdrant payload field and a Neo4j node
 * property that hold the same key (e.g. `item_key` on points and on `:Paper` nodes).
 */
export interface LinkConfig {
  /** Shown in reports. @default '<collection>.<field> ↔ :<label>.<property>' */
  name: string;
  qdrant: { collection: string; field: string };
  neo4j: { label: string; property: string };
  /** Orphans (either side) a set tolerates; more make the set `partial`. @default 0 */
  maxOrphans: number;
}

/** Quiesce hooks around every backup set (`hooks.*`, config file only). */
export interface HooksConfig {
  /** Shell command run before a set (e.g. pause the indexer); failure: nothing is backed up. */
  beforeSet: string | undefined;
  /** Shell command run after a set, also a failed or interrupted one (e.g. resume the indexer). */
  afterSet: string | undefined;
  /** Time a hook may take, in ms (config: a duration like `5m`). @default 300000 */
  timeout: number;
}

/** Semantic probes recorded at backup time and re-run by `verify --deep` and restores. */
export interface DrillConfig {
  /** Points sampled per Qdrant collection, each with its exact top-10 neighbours. @default 20 */
  qdrantSamples: number;
  /** Least HNSW recall@10 against exact search a drill accepts. @default 0.9 */
  recallThreshold: number;
  /** Read-only Cypher probes whose results must be equal after a restore. @default [] */
  neo4jQueries: { name: string; query: string }[];
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
  /** Links between the stores, checked at every backup-all and restore (config file only). */
  links: LinkConfig[];
  hooks: HooksConfig;
  drill: DrillConfig;
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
      snapshotsInFlight: 2,
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
    links: [],
    hooks: { beforeSet: undefined, afterSet: undefined, timeout: 300_000 },
    drill: { qdrantSamples: 20, recallThreshold: 0.9, neo4jQueries: [] },
  };
}
