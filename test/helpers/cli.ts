/**
 * Runs the built qnb CLI (dist/cli/main.js) as a real subprocess.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Path of the built CLI. */
export const QNB_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Result of a finished qnb run. */
export interface QnbRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment for qnb in tests: nothing inherited that could point at real servers. */
export function qnbEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: 'C.UTF-8',
    TZ: process.env.TZ,
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

/** How to start qnb: where, with what environment, and optionally under another program. */
export interface QnbSpawnOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** A program and its arguments that run node with qnb (e.g. `strace -f -o LOG`). */
  wrap?: string[];
  /**
   * qnb leads a process group of its own, as a terminal's foreground job does: `process.kill(-pid,
   * signal)` then reaches qnb and every child it did not put in a group of their own (a Ctrl-C).
   */
  group?: boolean;
}

/** Starts qnb; resolves when it exits. */
export function startQnb(
  args: string[],
  opts: QnbSpawnOptions,
): { child: ChildProcess; done: Promise<QnbRun>; output: () => { stdout: string; stderr: string } } {
  const [program = process.execPath, ...before] = opts.wrap ? [...opts.wrap, process.execPath] : [];
  const child = spawn(program, [...before, QNB_BIN, ...args], {
    cwd: opts.cwd,
    env: opts.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.group ? { detached: true } : {}),
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<QnbRun>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, output: () => ({ stdout, stderr }) };
}

/** Runs qnb to completion (with a safety timeout). */
export async function runQnb(
  args: string[],
  opts: QnbSpawnOptions & { timeoutMs?: number },
): Promise<QnbRun> {
  const { child, done } = startQnb(args, opts);
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
  try {
    return await done;
  } finally {
    clearTimeout(timer);
  }
}
