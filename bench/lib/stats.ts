/** Small statistics and formatting helpers for the bench. */

export function median(xs: readonly number[]): number {
  const v = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export const MiB = 1024 * 1024;

/** Throughput in MB/s (1 MB = 2^20 bytes). */
export const mbps = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000);

export function fmt(x: number, digits = 2): string {
  return Number.isFinite(x) ? x.toFixed(digits) : '–';
}

export const fmtS = (ms: number): string => fmt(ms / 1000, 2);

/** `a, b, c` of values in seconds. */
export const listS = (ms: readonly number[]): string => ms.map((m) => fmtS(m)).join(', ');

export const fmtMb = (kb: number): string => fmt(kb / 1024, 1);

/** A markdown table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) =>
    `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(head), `|${head.map(() => '---').join('|')}|`, ...rows.map(line)].join('\n');
}
