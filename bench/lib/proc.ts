/**
 * Child processes for the bench: every child is started in its own process group and tracked by
 * PID, so `killAll()` can end exactly the processes the bench started (and their children, e.g.
 * the node process under /usr/bin/time) — nothing else.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const live = new Map<number, ChildProcess>();

/** Options of {@link spawnTracked} and {@link run}. */
export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Kill the process group after this long. @default 300000 */
  timeoutMs?: number;
  /** Keep stdin open as a pipe (the child can watch it to notice that the bench went away). */
  stdinPipe?: boolean;
  /** Send stdout to this file instead of a pipe (read back into `stdout` after exit). */
  stdoutFile?: string;
}

/** Starts a process in its own process group and remembers its PID until it exits. */
export function spawnTracked(cmd: string, args: string[], opts: RunOptions = {}): ChildProcess {
  const out = opts.stdoutFile ? openSync(opts.stdoutFile, 'w') : undefined;
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.stdinPipe ? 'pipe' : 'ignore', out ?? 'pipe', 'pipe'],
      detached: true, // own process group: kill(-pid) reaches /usr/bin/time's child too
    });
  } finally {
    if (out !== undefined) closeSync(out);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${cmd}`);
  live.set(pid, child);
  child.on('exit', () => live.delete(pid));
  return child;
}

/** Sends `signal` to the process group of one child the bench started. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  const pid = child.pid;
  if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Ends one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Ends every child the bench started and that is still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...live.values()].map((c) => stopChild(c, 3000)));
}

/** Synchronous last resort (process 'exit' handler): SIGKILL every tracked process group. */
export function killAllSync(): void {
  for (const c of live.values()) killGroup(c, 'SIGKILL');
}

/** Result of a finished process. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time measured by the bench, spawn to exit. */
  wallMs: number;
}

/** Runs a process to completion, collecting its output. Rejects on timeout. */
export async function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const t0 = performance.now();
  const child = spawnTracked(cmd, args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, opts.timeoutMs ?? 300_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on('error', reject);
      child.on('close', (c, s) => resolve({ code: c, signal: s }));
    },
  );
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  if (opts.stdoutFile) stdout = await readFile(opts.stdoutFile, 'utf8');
  if (timedOut) throw new Error(`${cmd} ${args.join(' ')}: timed out after ${opts.timeoutMs ?? 300_000} ms`);
  return { code, signal, stdout, stderr, wallMs };
}

/** Like {@link run}, but throws unless the exit code is 0. */
export async function runOk(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} exited with ${r.code ?? r.signal}\n--- stdout\n${r.stdout.slice(-2000)}\n--- stderr\n${r.stderr.slice(-2000)}`,
    );
  }
  return r;
}

/** What GNU time (`/usr/bin/time -f '%e %U %S %M'`) measured. */
export interface TimeStats {
  wallS: number;
  userS: number;
  sysS: number;
  maxRssKb: number;
}

export const GNU_TIME = '/usr/bin/time';
export const hasGnuTime = (): boolean => existsSync(GNU_TIME);

/**
 * Runs `cmd` under GNU time (stats written to `statsFile`, so the command's own output is left
 * alone); without GNU time, polls /proc/PID/status for VmHWM instead.
 */
export async function runMeasured(
  cmd: string,
  args: string[],
  statsFile: string,
  opts: RunOptions = {},
): Promise<RunResult & { stats: TimeStats; rssSource: string }> {
  if (hasGnuTime()) {
    const r = await run(GNU_TIME, ['-f', '%e %U %S %M', '-o', statsFile, cmd, ...args], opts);
    const text = (await readFile(statsFile, 'utf8')).trim().split('\n').pop() ?? '';
    const [e, u, s, m] = text.split(/\s+/).map(Number);
    return {
      ...r,
      stats: {
        wallS: e ?? Number.NaN,
        userS: u ?? Number.NaN,
        sysS: s ?? Number.NaN,
        maxRssKb: m ?? Number.NaN,
      },
      rssSource: 'GNU time (getrusage ru_maxrss)',
    };
  }
  // Fallback: poll VmHWM (peak RSS) every 20 ms while the process runs.
  const t0 = performance.now();
  const child = spawnTracked(cmd, args, opts);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  let hwm = 0;
  const poll = setInterval(() => {
    readFile(`/proc/${child.pid}/status`, 'utf8').then(
      (s) => {
        const m = /VmHWM:\s+(\d+) kB/.exec(s);
        if (m) hwm = Math.max(hwm, Number(m[1]));
      },
      () => {},
    );
  }, 20);
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), opts.timeoutMs ?? 300_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve) => child.on('close', (c, s) => resolve({ code: c, signal: s })),
  );
  clearInterval(poll);
  clearTimeout(timer);
  const wallMs = performance.now() - t0;
  if (opts.stdoutFile) stdout = await readFile(opts.stdoutFile, 'utf8');
  return {
    code,
    signal,
    stdout,
    stderr,
    wallMs,
    stats: { wallS: wallMs / 1000, userS: Number.NaN, sysS: Number.NaN, maxRssKb: hwm },
    rssSource: '/proc/PID/status VmHWM, polled every 20 ms',
  };
}

/** CPU milliseconds (user + sys) a process has used so far, from /proc (clock ticks of 10 ms). */
export async function procCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14 and 15 (utime, stime) are 12 and 13 after the command name
  return (Number(f[11]) + Number(f[12])) * 10;
}
