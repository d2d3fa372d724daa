/**
 * How raw config values (strings from the environment or flags, values from the config file)
 * become typed values. Each throws a message (never the value of a secret) on bad input.
 */
import { parseDuration } from '../core/time.js';

export function str(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  return raw.trim();
}

export function httpUrl(raw: unknown): string {
  const s = str(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error(`"${s}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`"${s}" is not an http(s) URL`);
  return s.replace(/\/+$/, '');
}

/** A comma-separated list (or array) of http(s) URLs, trimmed, without duplicates. */
export function httpUrls(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw.flatMap((x) => String(x).split(',')) : str(raw).split(',');
  return [
    ...new Set(
      list
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .map(httpUrl),
    ),
  ];
}

export function boltUrl(raw: unknown): string {
  const s = str(raw);
  const m = /^(bolt|neo4j)(\+s|\+ssc)?:\/\/[^/\s]+/.exec(s);
  if (!m) throw new Error(`"${s}" is not a bolt:// or neo4j:// URI`);
  return s;
}

export function positiveInt(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : Number(str(raw));
  if (!Number.isInteger(n) || n < 1) throw new Error(`"${String(raw)}" is not a whole number ≥ 1`);
  return n;
}

export function bool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  const s = str(raw).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new Error(`"${s}" is not true or false`);
}

const COLLECTION_NAME = /^[^<>:"/\\|?*\0]{1,255}$/;

export function collections(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw.map(String) : str(raw).split(',');
  const names = list.map((s) => s.trim()).filter((s) => s !== '' && s !== '*' && s.toLowerCase() !== 'all');
  for (const n of names) {
    if (!COLLECTION_NAME.test(n)) throw new Error(`"${n}" is not a valid Qdrant collection name`);
  }
  return [...new Set(names)];
}

export function mode(raw: unknown): 'dump' | 'export' {
  const s = str(raw);
  if (s !== 'dump' && s !== 'export') throw new Error(`"${s}" is neither dump nor export`);
  return s;
}

export function secret(raw: unknown): string {
  if (typeof raw !== 'string' || raw === '') throw new Error('must be a non-empty string');
  return raw;
}

export function duration(raw: unknown): number {
  const s = str(raw);
  const ms = parseDuration(s);
  if (ms === undefined || ms <= 0) throw new Error(`"${s}" is not a duration`);
  return ms;
}

export function timeZone(raw: unknown): string {
  const s = str(raw);
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: s });
  } catch {
    throw new Error(`"${s}" is not a time zone`);
  }
  return s;
}

export function partSizeMb(raw: unknown): number {
  const n = positiveInt(raw);
  if (n < 5 || n > 5120) throw new Error(`"${String(raw)}" is not between 5 and 5120`);
  return n;
}

/** A URL that may hold a token: errors never echo it. */
export function secretUrl(raw: unknown): string {
  const s = secret(raw).trim();
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error('is not a URL');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('is not an http(s) URL');
  return s.replace(/\/+$/, '');
}
