/**
 * Helpers of the automation end-to-end tests: follow a long-running qnb's output, wait for a
 * line with a deadline, read the set manifests, and a local HTTP receiver for pings and webhooks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SetManifest } from '../../src/core/manifest.js';
import type { QnbRun } from '../helpers/cli.js';

/** A started qnb whose output can be awaited line by line. */
export interface Followed {
  child: ChildProcess;
  done: Promise<QnbRun>;
  /** stdout + stderr so far. */
  output(): string;
  /** Waits until the output matches (counted `times`), or throws after `timeoutMs`. */
  waitFor(re: RegExp, opts?: { times?: number; timeoutMs?: number }): Promise<void>;
  /** Sends a signal and waits for the exit, SIGKILL after `timeoutMs`. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<QnbRun>;
}

/** Follows a process started with `world.start` and makes sure it is gone after the test. */
export function follow(t: TestContext, proc: { child: ChildProcess; done: Promise<QnbRun> }): Followed {
  let text = '';
  proc.child.stdout?.on('data', (d) => {
    text += d;
  });
  proc.child.stderr?.on('data', (d) => {
    text += d;
  });
  let exited = false;
  void proc.done.then(() => {
    exited = true;
  });
  t.after(async () => {
    if (!exited) {
      proc.child.kill('SIGKILL');
      await proc.done;
    }
  });
  return {
    ...proc,
    output: () => text,
    async waitFor(re, opts = {}) {
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      const global = new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`);
      while ((text.match(global)?.length ?? 0) < (opts.times ?? 1)) {
        if (exited) throw new Error(`qnb exited before ${re}:\n${text}`);
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${re} ×${opts.times ?? 1}:\n${text}`);
        await sleep(25);
      }
    },
    async stop(signal = 'SIGTERM', timeoutMs = 30_000) {
      proc.child.kill(signal);
      const timer = setTimeout(() => proc.child.kill('SIGKILL'), timeoutMs);
      try {
        return await proc.done;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Every set manifest in the backups folder, oldest first. */
export async function readSets(backupDir: string): Promise<SetManifest[]> {
  const dir = join(backupDir, 'sets');
  const names = (await readdir(dir).catch(() => [] as string[])).filter(
    (n) => n.endsWith('.json') && !n.startsWith('.'),
  );
  const sets = await Promise.all(
    names.map(async (n) => JSON.parse(await readFile(join(dir, n), 'utf8')) as SetManifest),
  );
  return sets.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

/** A local HTTP receiver on 127.0.0.1 that records every request. */
export async function startReceiver(
  t: TestContext,
): Promise<{ url: string; hits: { method: string; path: string; body: string }[]; close(): Promise<void> }> {
  const hits: { method: string; path: string; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      hits.push({ method: req.method ?? '', path: req.url ?? '', body });
      res.end('OK');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  };
  t.after(close);
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, hits, close };
}

/**
 * Runs an installed crontab line's command the way cron does (/bin/sh, from `/`, almost no
 * environment), killed after a minute; returns its exit status. Asynchronous, so a test server in
 * this process keeps answering.
 */
export async function runCronLine(line: string, home: string): Promise<number | null> {
  const command = line.replace(/^(\S+\s+){5}/, '').replace(/ # qnb-backup$/, '');
  const sh = spawn('/bin/sh', ['-c', command], { cwd: '/', env: { PATH: '/usr/bin:/bin', HOME: home } });
  const timer = setTimeout(() => sh.kill('SIGKILL'), 60_000);
  const [code] = (await once(sh, 'close')) as [number | null];
  clearTimeout(timer);
  return code;
}

/** Waits until `pred` holds, or throws after `timeoutMs`. */
export async function until(
  pred: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}
