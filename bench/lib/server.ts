/**
 * Starts bench/qdrant-server.ts as a child process and follows its output: the URL line and the
 * per-request timing lines.
 */
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { spawnTracked, stopChild } from './proc.js';

const SERVER_SCRIPT = fileURLToPath(new URL('../qdrant-server.ts', import.meta.url));

/** One request as the server timed it. */
export interface ServerTiming {
  method: string;
  url: string;
  status: number;
  /** When the request arrived (epoch ms). */
  startMs: number;
  /** Until the request body was fully read (null: no body read). */
  recvMs: number | null;
  totalMs: number;
  /** CPU time of the whole server process during the request. */
  cpuMs: number;
}

export interface BenchServer {
  url: string;
  collection: string;
  pid: number;
  child: ChildProcess;
  /** Waits for the next timing line (after `since`) matching method and URL prefix. */
  timing(
    method: string,
    urlPrefix: string,
    since: number,
    timeoutMs?: number,
  ): Promise<ServerTiming | undefined>;
  /** Number of timing lines seen so far. */
  seen(): number;
  /** Every timing line after `since`. */
  timingsSince(since: number): ServerTiming[];
  log(): string;
  stop(): Promise<void>;
}

export async function startBenchServer(opts: {
  mb: number;
  dataDir: string;
  maxSeconds: number;
  cwd: string;
  /** Also `bulk-1`…`bulk-N`, snapshots padded with `mb` MiB each. */
  extra?: { n: number; mb: number };
}): Promise<BenchServer> {
  const child = spawnTracked(
    process.execPath,
    [
      '--import',
      'tsx',
      SERVER_SCRIPT,
      '--mb',
      String(opts.mb),
      '--data-dir',
      opts.dataDir,
      '--max-seconds',
      String(opts.maxSeconds),
      '--watch-stdin',
      ...(opts.extra ? ['--extra', String(opts.extra.n), '--extra-mb', String(opts.extra.mb)] : []),
    ],
    { cwd: opts.cwd, stdinPipe: true },
  );
  const timings: ServerTiming[] = [];
  const waiters = new Set<() => void>();
  let log = '';
  let buf = '';
  let onReady: ((info: { url: string; collection: string; pid: number }) => void) | undefined;
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.startsWith('QNB_BENCH_TIMING ')) {
        timings.push(JSON.parse(line.slice(17)) as ServerTiming);
        for (const w of waiters) w();
      } else if (line.startsWith('QNB_BENCH_SERVER ')) {
        onReady?.(JSON.parse(line.slice(17)));
      } else log += `${line}\n`;
      nl = buf.indexOf('\n');
    }
  });
  child.stderr!.on('data', (d: Buffer) => {
    log += d.toString('utf8');
  });
  const info = await new Promise<{ url: string; collection: string; pid: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`qdrant bench server did not start:\n${log}`)), 60_000);
    onReady = (i) => {
      clearTimeout(timer);
      resolve(i);
    };
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`qdrant bench server exited with ${code}:\n${log}`));
    });
  });
  child.stdin!.on('error', () => {});

  const find = (method: string, prefix: string, since: number) =>
    timings.slice(since).find((t) => t.method === method && t.url.startsWith(prefix));

  return {
    ...info,
    child,
    seen: () => timings.length,
    timingsSince: (since) => timings.slice(since),
    log: () => log,
    async timing(method, urlPrefix, since, timeoutMs = 3000) {
      const hit = find(method, urlPrefix, since);
      if (hit) return hit;
      return new Promise<ServerTiming | undefined>((resolve) => {
        const check = () => {
          const t = find(method, urlPrefix, since);
          if (t) done(t);
        };
        const done = (t: ServerTiming | undefined) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(t);
        };
        const timer = setTimeout(() => done(undefined), timeoutMs);
        waiters.add(check);
      });
    },
    async stop() {
      child.stdin!.end();
      await stopChild(child, 10_000);
    },
  };
}
