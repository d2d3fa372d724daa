/** Facts about the machine the bench ran on. */
import { execFileSync } from 'node:child_process';
import { statfs } from 'node:fs/promises';
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
