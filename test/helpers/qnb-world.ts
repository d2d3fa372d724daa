/**
 * A test world for CLI tests: a Qdrant test server with seeded data, a working folder, and a
 * function to run the real qnb binary against them.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import {
  type QdrantTestServer,
  type QdrantTestServerOptions,
  startQdrantTestServer,
} from '../servers/qdrant/index.js';
import { type QnbRun, qnbEnv, runQnb, startQnb } from './cli.js';
import { clientFor, seedCollections } from './qdrant-data.js';
import { tempDir } from './tmp.js';

/** What a CLI test works with. */
export interface QnbWorld {
  server: QdrantTestServer;
  cwd: string;
  backupDir: string;
  env: NodeJS.ProcessEnv;
  client: ReturnType<typeof clientFor>;
  qnb(args: string[], extraEnv?: Record<string, string | undefined>): Promise<QnbRun>;
  start(args: string[]): ReturnType<typeof startQnb>;
  /** `qnb list --json` backups. */
  listed(): Promise<{ file: string; valid: boolean; name: string; sha256: string }[]>;
  /** sha256 of every file under the backups folder (relative path → hash), temp files included. */
  snapshotOfDisk(): Promise<Record<string, string>>;
}

/** Starts a server with `papers`/`chunks` seeded and returns the world. */
export async function createQnbWorld(
  t: TestContext,
  opts: {
    apiKey?: string;
    readOnlyApiKey?: string;
    papers?: number;
    chunks?: number;
    env?: Record<string, string>;
    /** More test-server options (e.g. snapshotsStorage). */
    server?: QdrantTestServerOptions;
  } = {},
): Promise<QnbWorld> {
  const server = await startQdrantTestServer({
    ...opts.server,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
    ...(opts.readOnlyApiKey ? { readOnlyApiKey: opts.readOnlyApiKey } : {}),
  });
  t.after(() => server.stop());
  const cwd = await tempDir(t);
  const client = clientFor(server.url, opts.apiKey);
  await seedCollections(client, { papers: opts.papers ?? 10, chunks: opts.chunks ?? 20 });
  const env = qnbEnv({
    QDRANT_URL: server.url,
    ...(opts.apiKey ? { QDRANT_API_KEY: opts.apiKey } : {}),
    ...opts.env,
  });
  const backupDir = join(cwd, 'backups');
  const world: QnbWorld = {
    server,
    cwd,
    backupDir,
    env,
    client,
    qnb: (args, extraEnv = {}) => runQnb(args, { cwd, env: { ...env, ...extraEnv } }),
    start: (args) => startQnb(args, { cwd, env }),
    async listed() {
      const r = await world.qnb(['list', '--json']);
      if (r.code !== 0) throw new Error(`qnb list failed: ${r.stderr}`);
      return (
        JSON.parse(r.stdout) as { backups: { file: string; valid: boolean; name: string; sha256: string }[] }
      ).backups;
    },
    async snapshotOfDisk() {
      const out: Record<string, string> = {};
      const walk = async (dir: string, rel: string) => {
        for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory()) await walk(join(dir, e.name), `${rel}${e.name}/`);
          else
            out[`${rel}${e.name}`] = createHash('sha256')
              .update(await readFile(join(dir, e.name)))
              .digest('hex');
        }
      };
      await walk(backupDir, '');
      return out;
    },
  };
  return world;
}

/** Asserts a failed run printed one clear error and no stack trace. */
export function errorLines(run: QnbRun): string[] {
  return run.stderr.split('\n').filter((l) => l.startsWith('✘'));
}

/** True when the output holds something that looks like a JS stack trace. */
export function hasStackTrace(run: QnbRun): boolean {
  return /\n\s+at .+\(.+:\d+:\d+\)/.test(run.stderr + run.stdout);
}
