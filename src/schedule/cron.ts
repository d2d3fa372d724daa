/**
 * Cron expressions: validation for `qnb schedule` (croner, optional seconds field) and for the
 * system crontab (`install-cron`: classic 5 fields only), and conversion to a systemd
 * `OnCalendar=` value for `install-cron --systemd`.
 */
import { Cron } from 'croner';
import { ConfigError } from '../core/errors.js';

/** Where the expression came from, named in errors (`--cron`, `QNB_CRON`, `qnb.config.json: automation.cron`). */
export type CronSource = string;

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const HINT = 'use 5 fields "minute hour day month weekday", e.g. "0 2 * * *" (daily 02:00) or "0 */6 * * *"';

/**
 * Validates an expression for the long-running scheduler and returns a paused job to read the
 * next run from. Seconds are allowed as a sixth, leading field (`* * * * * *`).
 */
export function parseScheduleCron(expr: string, source: CronSource, timeZone?: string): Cron {
  try {
    return new Cron(expr.trim(), {
      paused: true,
      mode: '5-or-6-parts',
      ...(timeZone ? { timezone: timeZone } : {}),
    });
  } catch (err) {
    throw new ConfigError(
      `${source} "${expr}": ${cronMessage(err)}`,
      `${HINT}; a sixth leading field sets seconds`,
    );
  }
}

function cronMessage(err: unknown): string {
  return String((err as Error)?.message ?? err)
    .replace(/^CronPattern:\s*/, '')
    .replace(/\.$/, '');
}

/** One field of a classic crontab line. */
interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: string[];
}

const FIELDS: FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  {
    name: 'month',
    min: 1,
    max: 12,
    names: ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'],
  },
  { name: 'weekday', min: 0, max: 7, names: ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'] },
];

function value(text: string, f: FieldSpec): number {
  const named = f.names?.indexOf(text.toUpperCase()) ?? -1;
  const n =
    named >= 0 ? named + (f.name === 'month' ? 1 : 0) : /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isInteger(n) || n < f.min || n > f.max)
    throw new Error(`${f.name}: "${text}" is not a value from ${f.min} to ${f.max}`);
  return n;
}

/** The values a classic cron field selects (weekday 7 is folded onto 0). */
function expand(field: string, f: FieldSpec): number[] {
  const out = new Set<number>();
  for (const item of field.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
    if (!m) throw new Error(`${f.name}: cannot read "${item}"`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new Error(`${f.name}: step must be ≥ 1 in "${item}"`);
    let lo: number;
    let hi: number;
    if (m[1] === '*') [lo, hi] = [f.min, f.name === 'weekday' ? 6 : f.max];
    else if (m[1]!.includes('-')) {
      const [a, b] = m[1]!.split('-');
      [lo, hi] = [value(a ?? '', f), value(b ?? '', f)];
      if (lo > hi) throw new Error(`${f.name}: range "${m[1]}" goes backwards`);
    } else {
      if (m[2] !== undefined) throw new Error(`${f.name}: "${item}" — a step needs * or a range`);
      lo = hi = value(m[1]!, f);
    }
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'weekday' && v === 7 ? 0 : v);
  }
  return [...out].sort((a, b) => a - b);
}

/** A crontab expression split into what each field selects. */
export interface CrontabSchedule {
  /** The 5 fields as written (nicknames expanded). */
  fields: string[];
  values: number[][];
  /** Which fields are `*` (or a step over all values). */
  all: boolean[];
}

/**
 * Validates an expression for the system crontab: 5 fields of numbers, names, `*`, `,`, `-` and
 * `/`, or a nickname such as `@daily`. croner's extensions (`L`, `W`, `#`, seconds) are refused
 * because cron itself does not understand them.
 */
export function parseCrontabCron(expr: string, source: CronSource): CrontabSchedule {
  const trimmed = expr.trim();
  const text = NICKNAMES[trimmed.toLowerCase()] ?? trimmed;
  const fields = text.split(/\s+/);
  try {
    if (trimmed.startsWith('@') && !NICKNAMES[trimmed.toLowerCase()])
      throw new Error(`unknown nickname (use one of ${Object.keys(NICKNAMES).join(', ')})`);
    if (fields.length !== 5) throw new Error(`cron needs exactly 5 fields, got ${fields.length}`);
    const values = fields.map((field, i) => expand(field, FIELDS[i]!));
    const all = values.map((v, i) => {
      const f = FIELDS[i]!;
      return v.length === (f.name === 'weekday' ? 7 : f.max - f.min + 1);
    });
    // croner must agree, so `schedule` and cron run the same expression
    new Cron(text, { paused: true, mode: '5-part' });
    return { fields, values, all };
  } catch (err) {
    throw new ConfigError(`${source} "${expr}": ${cronMessage(err)}`, HINT);
  }
}

const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const two = (n: number) => String(n).padStart(2, '0');

/**
 * The systemd `OnCalendar=` value that fires at the same times as a crontab expression, e.g.
 * `0 2 * * *` → `*-*-* 02:00:00` and `0 3 * * 0` → `Sun *-*-* 03:00:00`. Throws ConfigError when
 * systemd cannot say the same thing (day of month and weekday both restricted: cron runs when
 * either matches, systemd only when both do).
 */
export function cronToOnCalendar(expr: string, source: CronSource): string {
  const s = parseCrontabCron(expr, source);
  const [min, hour, dom, month, dow] = s.values as [number[], number[], number[], number[], number[]];
  const [, , domAll, , dowAll] = s.all;
  if (!domAll && !dowAll)
    throw new ConfigError(
      `${source} "${expr}": cannot be written as a systemd OnCalendar (cron runs when the day of month OR the weekday matches; systemd needs both)`,
      'restrict only one of the two fields, or use install-cron without --systemd',
    );
  const list = (v: number[], all: boolean | undefined) => (all ? '*' : v.map(two).join(','));
  const days = dowAll ? '' : `${dow.map((d) => DAY_NAMES[d]).join(',')} `;
  return `${days}*-${list(month, s.all[3])}-${list(dom, domAll)} ${list(hour, s.all[1])}:${list(min, s.all[0])}:00`;
}
