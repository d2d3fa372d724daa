/** Facts about the machine the bench ran on. */
import { execFileSync } from 'node:child_process';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';

export interface MachineFacts {
  date: string;
  cpuModel: string;
  cores: number;
  memGiB: number;
  node: string;
  os: string;
  curl: string;
  loadAvg: string;
}

function firstLine(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n')[0]!
      .trim();
  } catch {
    return 'not found';
  }
}

export const loadAvg = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} (${os.arch()})`,
    curl: firstLine('curl', ['--version']),
    loadAvg: loadAvg(),
  };
}

/** Free bytes (for an unprivileged user) on the file system holding `path`. */
export async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/**
 * CPU seconds (user + system) a running process has used so far, all threads; with `mainThread`
 * only its main thread (the event loop of a Node process). NaN if unknown (no /proc).
 */
export async function processCpuS(pid: number, mainThread = false): Promise<number> {
  try {
    const stat = await readFile(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/** USER_HZ of /proc/<pid>/stat: 100 on every Linux build in practice (sysconf(_SC_CLK_TCK)). */
const CLOCK_TICKS = 100;

/** Counters of the block device holding `dir`: bytes written so far and ms it was busy (io_ticks). */
export interface DiskCounters {
  device: string;
  writtenBytes: number;
  busyMs: number;
}

export async function diskCounters(dir: string): Promise<DiskCounters | undefined> {
  try {
    const source = execFileSync('df', ['--output=source', dir], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .pop();
    const device = (source ?? '').replace(/^\/dev\//, '');
    for (const line of (await readFile('/proc/diskstats', 'utf8')).split('\n')) {
      // major minor name reads … sectors-written (field 10) … io_ticks ms (field 13)
      const f = line.trim().split(/\s+/);
      if (f[2] === device) return { device, writtenBytes: Number(f[9]) * 512, busyMs: Number(f[12]) };
    }
  } catch {
    // no df or /proc: no disk figures
  }
  return undefined;
}
