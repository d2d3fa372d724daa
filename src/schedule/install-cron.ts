/**
 * `qnb install-cron`: the crontab line that runs `qnb backup-all` with a log, installed
 * idempotently (the line carries a marker comment; installing again replaces it and leaves every
 * other line alone), or a systemd service + timer pair to install by hand.
 */
import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { QnbError } from '../core/errors.js';

/** Marker comment at the end of the line qnb owns in the crontab. */
export const CRON_MARKER = '# qnb-backup';

/** What the scheduled job runs. */
export interface JobSpec {
  /** Absolute path of node. */
  node: string;
  /** Absolute path of qnb's main script. */
  script: string;
  /** Absolute working folder (where qnb.config.* and ./backups are found). */
  cwd: string;
  /** Arguments after the script, e.g. `['backup-all', '--config', '/abs/qnb.config.yaml']`. */
  args: string[];
}

/** Quotes a word for /bin/sh when it needs it. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command part of the crontab line; `%` is escaped because cron turns it into a newline. */
export function cronCommand(job: JobSpec, log: string): string {
  const words = [job.node, job.script, ...job.args].map(shellQuote).join(' ');
  const cmd = `cd ${shellQuote(job.cwd)} && ${words} >> ${shellQuote(log)} 2>&1`;
  return cmd.replace(/%/g, '\\%');
}

/** The whole crontab line, with the marker. */
export function cronLine(schedule: string, job: JobSpec, log: string): string {
  return `${schedule.trim()} ${cronCommand(job, log)} ${CRON_MARKER}`;
}

/**
 * Why this user cannot append to the job's log (`undefined` when it can): /bin/sh skips the whole
 * command when it cannot open `>> LOG`, so cron would never run qnb. With `create`, a missing
 * folder is made and the file opened for append; without, nothing is touched.
 */
export function logProblem(log: string, create: boolean): string | undefined {
  try {
    if (create) {
      mkdirSync(dirname(log), { recursive: true });
      closeSync(openSync(log, 'a'));
      return undefined;
    }
    const st = statSync(log, { throwIfNoEntry: false });
    if (st?.isDirectory()) return 'it is a folder';
    if (!st && !statSync(dirname(log)).isDirectory()) return `${dirname(log)} is not a folder`;
    accessSync(st ? log : dirname(log), constants.W_OK);
    return undefined;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return `${dirname(log)} does not exist`;
    if (e.code === 'EISDIR') return 'it is a folder';
    if (e.code === 'ENOTDIR' || e.code === 'EEXIST') return 'a part of its path is not a folder';
    if (e.code === 'EACCES' || e.code === 'EPERM') return 'permission denied';
    return e.code === 'EROFS' ? 'read-only file system' : (e.code ?? e.message);
  }
}

/** True for a line qnb installed. */
export function isQnbLine(line: string): boolean {
  return line.trimEnd().endsWith(CRON_MARKER);
}

/**
 * The crontab with `line` installed: a previous qnb line is replaced in place, other lines are
 * kept exactly; a crontab without a qnb line gets it appended.
 */
export function mergeCrontab(existing: string, line: string): { text: string; replaced: number } {
  const lines = existing === '' ? [] : existing.replace(/\n$/, '').split('\n');
  let replaced = 0;
  const out: string[] = [];
  for (const l of lines) {
    if (!isQnbLine(l)) out.push(l);
    else if (replaced++ === 0) out.push(line);
  }
  if (replaced === 0) out.push(line);
  return { text: `${out.join('\n')}\n`, replaced };
}

function runCrontab(
  program: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'ENOENT'
          ? new QnbError('E_NOT_FOUND', `crontab: program "${program}" not found`, {
              hint: 'install cron (e.g. apt install cron), or use --print or --systemd',
            })
          : new QnbError('E_IO', `crontab: cannot run "${program}": ${err.message}`, { cause: err }),
      );
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

/** The current user's crontab ('' when there is none). */
export async function readCrontab(program: string): Promise<string> {
  const r = await runCrontab(program, ['-l']);
  if (r.code === 0) return r.stdout;
  if (/no crontab/i.test(r.stderr)) return '';
  throw new QnbError('E_IO', `crontab -l failed (exit ${r.code}): ${r.stderr.trim() || 'no output'}`, {
    hint: 'check that cron is installed and you may use it (/etc/cron.allow)',
  });
}

/** Replaces the current user's crontab with `text`. */
export async function writeCrontab(program: string, text: string): Promise<void> {
  const r = await runCrontab(program, ['-'], text);
  if (r.code !== 0)
    throw new QnbError('E_IO', `crontab - failed (exit ${r.code}): ${r.stderr.trim() || 'no output'}`, {
      hint: 'check that cron is installed and you may use it (/etc/cron.allow)',
    });
}

/** A systemd service + timer pair (user units) that runs the job on `onCalendar`. */
export function systemdUnits(
  job: JobSpec,
  onCalendar: string,
  cron: string,
  log: string | undefined,
): { service: string; timer: string } {
  const exec = [job.node, job.script, ...job.args].map(systemdQuote).join(' ');
  const service = [
    '[Unit]',
    'Description=qnb backup of Qdrant and Neo4j (backup-all)',
    'Wants=network-online.target',
    'After=network-online.target',
    '',
    '[Service]',
    'Type=oneshot',
    `WorkingDirectory=${job.cwd}`,
    `ExecStart=${exec}`,
    '# if qnb dies while Neo4j is stopped, its guardian must outlive it to start Neo4j again',
    'KillMode=process',
    '# secrets: put QDRANT_API_KEY / NEO4J_PASSWORD in a file only you can read and uncomment:',
    '# EnvironmentFile=%h/.config/qnb/env',
    ...(log ? [`StandardOutput=append:${log}`, `StandardError=append:${log}`] : []),
    '',
  ].join('\n');
  const timer = [
    '[Unit]',
    `Description=Run qnb-backup.service (cron "${cron}")`,
    '',
    '[Timer]',
    `OnCalendar=${onCalendar}`,
    'Persistent=true',
    'RandomizedDelaySec=60',
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
  return { service, timer };
}

/** Quotes an ExecStart word for systemd (double quotes; `%` doubled, `$` escaped). */
function systemdQuote(word: string): string {
  const w = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  return /^[\w@+=:,./-]+$/.test(w) ? w : `"${w.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
