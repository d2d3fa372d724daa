/** Writes one bench's section into bench/RESULTS.md between its own markers (other sections stay). */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';

/** Replaces the text between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in `file`, or appends it. */
export async function writeSection(file: string, name: string, section: string): Promise<void> {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const old = existsSync(file) ? await readFile(file, 'utf8') : '# Bench results\n';
  const block = `${begin}\n${section}\n${end}`;
  const i = old.indexOf(begin);
  const j = old.indexOf(end);
  const next =
    i >= 0 && j > i ? old.slice(0, i) + block + old.slice(j + end.length) : `${old.trimEnd()}\n\n${block}\n`;
  await writeFile(file, next);
}

/** The 1/5/15-minute load averages, for the record. */
export async function loadAverage(): Promise<string> {
  return (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}
