/**
 * A real Neo4j 5.26 Community server for tests, as a local install that looks like an unpacked
 * tarball (`$NEO4J_HOME/bin/neo4j`, `bin/neo4j-admin`, `conf/neo4j.conf`, `data/` …), assembled
 * from Maven jars by `scripts/neo4j/fetch.sh` and `scripts/neo4j/make-home.sh`.
 * See docs/neo4j-testing.md.
 *
 *   const dist = await ensureNeo4jDist();
 *   const n = await createNeo4jHome({ password: 'test-password' });
 *   t.after(() => n.remove());
 *   await n.start();                // waits for Bolt (≤ 120 s)
 *   … neo4j-driver on n.boltUrl, qnb with NEO4J_HOME=n.home …
 *   await n.stop();                 // SIGTERM, clean shutdown; never kill -9 unless it hangs
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import neo4j from 'neo4j-driver';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const NEO4J_SCRIPTS = join(REPO, 'scripts/neo4j');
export const DOCKER_SCRIPTS = join(REPO, 'scripts/docker');
/** The Neo4j version the scripts fetch (NEO4J_VERSION overrides). */
export const NEO4J_VERSION = process.env.NEO4J_VERSION ?? '5.26.30';

const START_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 120_000;

export interface Neo4jDist {
  /** Folder of the jars (shared cache, e.g. ~/.cache/qnb/neo4j-5.26.30/lib). */
  libDir: string;
  version: string;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a program without a shell; collects output (or streams stdout to a file). */
export function run(
  cmd: string,
  args: string[],
  opts: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    stdinFile?: string;
    stdoutFile?: string;
    timeoutMs?: number;
  } = {},
): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolveRun, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const cap = (s: string, chunk: Buffer) => (s.length > 1_000_000 ? s : s + chunk.toString('utf8'));
    const done: Promise<unknown>[] = [];
    if (opts.stdoutFile) {
      const out = createWriteStream(opts.stdoutFile, { mode: 0o600 });
      child.stdout.pipe(out);
      done.push(
        new Promise<void>((r, j) => {
          out.on('finish', () => r());
          out.on('error', j);
        }),
      );
    } else {
      child.stdout.on('data', (c: Buffer) => {
        stdout = cap(stdout, c);
      });
    }
    child.stderr.on('data', (c: Buffer) => {
      stderr = cap(stderr, c);
    });
    child.stdin.on('error', () => {});
    if (opts.stdinFile) {
      const input = createReadStream(opts.stdinFile);
      input.on('error', reject);
      input.pipe(child.stdin);
    } else {
      child.stdin.end();
    }
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGTERM'), opts.timeoutMs);
    }
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      Promise.all(done).then(() => resolveRun({ code, signal, stdout, stderr, ms: Date.now() - t0 }), reject);
    });
  });
}

function which(cmd: string): Promise<boolean> {
  return new Promise((r) => execFile('sh', ['-c', `command -v ${cmd}`], (err) => r(!err)));
}

/** Java and Maven are what a Neo4j test home needs (the jars come through Maven). */
export async function neo4jAvailable(): Promise<{ ok: true } | { ok: false; hint: string }> {
  const [java, mvn] = await Promise.all([which('java'), which('mvn')]);
  if (!java || !mvn) {
    const missing = [java ? '' : 'java', mvn ? '' : 'mvn'].filter(Boolean).join(' and ');
    return { ok: false, hint: `${missing} not found: apt-get install openjdk-17-jdk-headless maven` };
  }
  return { ok: true };
}

let distPromise: Promise<Neo4jDist> | undefined;

/** Fetches the Neo4j jars once (scripts/neo4j/fetch.sh: ~1 min cold, instant when cached). */
export function ensureNeo4jDist(): Promise<Neo4jDist> {
  distPromise ??= (async () => {
    const r = await run(join(NEO4J_SCRIPTS, 'fetch.sh'), [], { timeoutMs: 15 * 60_000 });
    if (r.code !== 0) {
      distPromise = undefined;
      throw new Error(
        `scripts/neo4j/fetch.sh failed (${r.code}): ${r.stderr.trim().split('\n').slice(-10).join('\n')}`,
      );
    }
    const libDir = r.stdout.trim().split('\n').pop() ?? '';
    const marker = readFileSync(join(libDir, '.qnb-complete'), 'utf8');
    const version = /^version=(.+)$/m.exec(marker)?.[1] ?? NEO4J_VERSION;
    return { libDir, version };
  })();
  return distPromise;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((r, j) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', j);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => r(port));
    });
  });
}

/** Waits until Bolt answers and authenticates (a wrong password fails at once). */
export async function waitForBolt(url: string, user: string, password: string, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    const driver = neo4j.driver(url, neo4j.auth.basic(user, password), {
      connectionTimeout: 2_000,
      maxConnectionPoolSize: 1,
      connectionAcquisitionTimeout: 3_000,
    });
    try {
      await driver.getServerInfo();
      return;
    } catch (e) {
      last = e;
      const code = (e as { code?: string }).code ?? '';
      if (code.startsWith('Neo.ClientError.Security')) throw e;
    } finally {
      await driver.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`Bolt at ${url} did not answer within ${timeoutMs / 1000} s: ${String(last)}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// Safety net: servers still running when the test process exits get SIGTERM (clean shutdown).
const runningPids = new Set<number>();
process.once('exit', () => {
  for (const pid of runningPids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {}
  }
});

export interface StopResult {
  ms: number;
  /** True when the server ignored SIGTERM until the timeout and was killed with SIGKILL. */
  forced: boolean;
}

export interface Neo4jHome {
  home: string;
  boltPort: number;
  boltUrl: string;
  user: 'neo4j';
  password: string;
  version: string;
  /** `$NEO4J_HOME/bin/neo4j` and `bin/neo4j-admin`. */
  neo4jBin: string;
  neo4jAdminBin: string;
  /** Environment for the wrappers and for qnb (NEO4J_HOME, NEO4J_CONF; no password). */
  env: NodeJS.ProcessEnv;
  /** `bin/neo4j start` (returns when the server started), then waits for Bolt; ≤ 120 s. */
  start(): Promise<{ ms: number }>;
  /** SIGTERM to the server and wait for it to exit (clean shutdown); SIGKILL only after 120 s. */
  stop(opts?: { timeoutMs?: number }): Promise<StopResult>;
  isRunning(): boolean;
  pid(): number | undefined;
  /** Runs `bin/neo4j-admin ARGS` (stdin/stdout from/to files if given). */
  admin(args: string[], opts?: { stdinFile?: string; stdoutFile?: string }): Promise<RunResult>;
  /** Runs `bin/neo4j ARGS` (e.g. `status`). */
  neo4j(args: string[]): Promise<RunResult>;
  /** Last lines of logs/neo4j.log and logs/debug.log, for error messages. */
  logTail(lines?: number): Promise<string>;
  /** Stops the server if it runs, then deletes the home. */
  remove(): Promise<void>;
}

export interface CreateNeo4jHomeOptions {
  /** Folder for the home (created; must not hold databases). Default: a new temp folder. */
  dir?: string;
  /** Default: a free port. */
  boltPort?: number;
  /** Initial password of user neo4j (≥ 8 characters, not "neo4j"). */
  password: string;
  /**
   * Sets Neo4j's internal Bolt shutdown quiet period to 0: `stop` takes ~3 s instead of ~14 s.
   * Default true (test speed); false gives the stock shutdown behaviour.
   */
  fastShutdown?: boolean;
  /** Max heap (default 512m) and page cache (default 128m). */
  heap?: string;
  pageCache?: string;
}

/** Creates a tarball-like NEO4J_HOME (scripts/neo4j/make-home.sh) with its initial password set. */
export async function createNeo4jHome(opts: CreateNeo4jHomeOptions): Promise<Neo4jHome> {
  const dist = await ensureNeo4jDist();
  const home = resolve(opts.dir ?? (await mkdtemp(join(tmpdir(), 'qnb-neo4j-'))));
  const boltPort = opts.boltPort ?? (await freePort());
  const makeEnv: NodeJS.ProcessEnv = {
    ...process.env,
    NEO4J_PASSWORD: opts.password,
    NEO4J_FAST_SHUTDOWN: opts.fastShutdown === false ? '' : '1',
    ...(opts.heap ? { NEO4J_HEAP: opts.heap } : {}),
    ...(opts.pageCache ? { NEO4J_PAGECACHE: opts.pageCache } : {}),
  };
  const made = await run(join(NEO4J_SCRIPTS, 'make-home.sh'), [home, String(boltPort)], {
    env: makeEnv,
    timeoutMs: 10 * 60_000,
  });
  if (made.code !== 0) throw new Error(`make-home.sh failed (${made.code}): ${made.stderr.trim()}`);

  const env: NodeJS.ProcessEnv = { ...process.env, NEO4J_HOME: home, NEO4J_CONF: join(home, 'conf') };
  // JAVA_OPTS would replace every JVM option of the server (a bootloader rule).
  delete env.JAVA_OPTS;
  delete env.NEO4J_PASSWORD;
  const neo4jBin = join(home, 'bin/neo4j');
  const neo4jAdminBin = join(home, 'bin/neo4j-admin');
  const pidFile = join(home, 'run/neo4j.pid');

  const readPid = (): number | undefined => {
    if (!existsSync(pidFile)) return undefined;
    const pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  };

  const h: Neo4jHome = {
    home,
    boltPort,
    boltUrl: `bolt://127.0.0.1:${boltPort}`,
    user: 'neo4j',
    password: opts.password,
    version: dist.version,
    neo4jBin,
    neo4jAdminBin,
    env,
    pid() {
      const pid = readPid();
      return pid !== undefined && alive(pid) ? pid : undefined;
    },
    isRunning() {
      return h.pid() !== undefined;
    },
    async logTail(lines = 20) {
      const parts: string[] = [];
      for (const f of ['logs/neo4j.log', 'logs/debug.log']) {
        const text = await readFile(join(home, f), 'utf8').catch(() => '');
        if (text) parts.push(`--- ${f}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
      }
      return parts.join('\n');
    },
    async start() {
      const t0 = Date.now();
      const r = await run(neo4jBin, ['start'], { env, timeoutMs: START_TIMEOUT_MS });
      const pid = h.pid();
      if (pid !== undefined) runningPids.add(pid);
      if (r.code !== 0) {
        throw new Error(`bin/neo4j start failed (${r.code}): ${r.stdout}${r.stderr}\n${await h.logTail()}`);
      }
      try {
        await waitForBolt(
          h.boltUrl,
          h.user,
          h.password,
          Math.max(1_000, START_TIMEOUT_MS - (Date.now() - t0)),
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${await h.logTail()}`);
      }
      return { ms: Date.now() - t0 };
    },
    async stop(o = {}) {
      const t0 = Date.now();
      const pid = h.pid();
      if (pid === undefined) return { ms: 0, forced: false };
      const timeoutMs = o.timeoutMs ?? STOP_TIMEOUT_MS;
      process.kill(pid, 'SIGTERM');
      let forced = false;
      while (alive(pid)) {
        if (Date.now() - t0 > timeoutMs) {
          // Last resort: an unclean stop makes `neo4j-admin database dump` refuse until recovered.
          process.kill(pid, 'SIGKILL');
          forced = true;
          console.error(
            `neo4j harness: server pid ${pid} ignored SIGTERM for ${timeoutMs / 1000} s; killed with SIGKILL`,
          );
          while (alive(pid)) await new Promise((r) => setTimeout(r, 100));
          break;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      runningPids.delete(pid);
      // `bin/neo4j stop` removes the pid file too; the server itself leaves it behind.
      await rm(pidFile, { force: true });
      return { ms: Date.now() - t0, forced };
    },
    admin(args, o = {}) {
      return run(neo4jAdminBin, args, { env, ...o, timeoutMs: 10 * 60_000 });
    },
    neo4j(args) {
      return run(neo4jBin, args, { env, timeoutMs: STOP_TIMEOUT_MS + 30_000 });
    },
    async remove() {
      if (h.isRunning()) await h.stop();
      await rm(home, { recursive: true, force: true });
    },
  };
  return h;
}

/** Node and relationship counts over Bolt (one driver, closed afterwards). */
export async function countGraph(
  url: string,
  user: string,
  password: string,
): Promise<{ nodes: number; relationships: number }> {
  const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
  try {
    const r = await driver.executeQuery(
      'CALL { MATCH (n) RETURN count(n) AS nodes } CALL { MATCH ()-[r]->() RETURN count(r) AS rels } RETURN nodes, rels',
    );
    const rec = r.records[0];
    if (!rec) throw new Error('count query returned no row');
    return { nodes: Number(rec.get('nodes')), relationships: Number(rec.get('rels')) };
  } finally {
    await driver.close();
  }
}

/** Writes a small citation-like graph: `papers` papers, each citing the previous one, plus concepts. */
export async function seedGraph(url: string, user: string, password: string, papers = 100): Promise<void> {
  const driver = neo4j.driver(url, neo4j.auth.basic(user, password));
  try {
    await driver.executeQuery(
      `UNWIND range(1, $n) AS i
       CREATE (p:Paper {id: i, title: 'Paper ' + i, year: 1990 + i % 30})
       MERGE (c:Concept {name: 'concept-' + (i % 7)})
       CREATE (p)-[:MENTIONS {weight: i % 5}]->(c)`,
      { n: neo4j.int(papers) },
    );
    await driver.executeQuery('MATCH (a:Paper), (b:Paper) WHERE b.id = a.id - 1 CREATE (a)-[:CITES]->(b)');
  } finally {
    await driver.close();
  }
}
