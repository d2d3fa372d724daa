/**
 * Where the wall time of one `backup-qdrant -c bulk-1 … -c bulk-N` run goes, from the test
 * server's per-request timing lines (start, end) and the client process's spawn and exit:
 *
 *   wall = start-up (spawn → first request)
 *        + before the first download (preflight, describe, create of the first collection)
 *        + the downloads (first byte requested → last byte sent, one at a time)
 *        + the gaps between downloads (fsync, commit, count after, delete; waiting for a snapshot
 *          still being created)
 *        + the tail (last response → exit: manifest, close)
 *
 * and how much of the snapshot creation ran while a download was in flight (hidden).
 */
import type { ServerTiming } from './server.js';

export interface OverlapTimeline {
  wallMs: number;
  startupMs: number;
  beforeFirstDownloadMs: number;
  downloadsMs: number;
  gapsMs: number;
  tailMs: number;
  /** Server time of the snapshot creations (POST …/snapshots), summed. */
  createMs: number;
  /** …of which the creations that started before the first download (nothing to hide behind). */
  firstCreateMs: number;
  /** …of which overlapped a download in flight. */
  createHiddenMs: number;
  /** Preflight/describe requests (GET/POST on collections, aliases, count, scroll, query), summed. */
  describeMs: number;
  /** Snapshot deletions, summed. */
  deleteMs: number;
  /** Wall time during which the server had no request of this run in progress. */
  serverIdleMs: number;
}

type Span = [number, number];

const isDownload = (t: ServerTiming) =>
  t.method === 'GET' && /^\/collections\/[^/]+\/snapshots\/[^/?]+/.test(t.url);
const isCreate = (t: ServerTiming) =>
  t.method === 'POST' && /^\/collections\/[^/]+\/snapshots(\?|$)/.test(t.url);
const isDelete = (t: ServerTiming) => t.method === 'DELETE' && /\/snapshots\//.test(t.url);
const isList = (t: ServerTiming) =>
  t.method === 'GET' && /^\/collections\/[^/]+\/snapshots(\?|$)/.test(t.url);

function union(spans: Span[]): Span[] {
  const out: Span[] = [];
  for (const [a, b] of [...spans].sort((x, y) => x[0] - y[0])) {
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

const length = (spans: Span[]) => spans.reduce((s, [a, b]) => s + (b - a), 0);

function overlapWith(span: Span, others: Span[]): number {
  let sum = 0;
  for (const [a, b] of others) sum += Math.max(0, Math.min(span[1], b) - Math.max(span[0], a));
  return sum;
}

/** Breaks one run down; `spawnMs`/`exitMs` are epoch ms taken around the client process. */
export function overlapTimeline(lines: ServerTiming[], spawnMs: number, exitMs: number): OverlapTimeline {
  const span = (t: ServerTiming): Span => [t.startMs, t.startMs + t.totalMs];
  const all = lines.map(span);
  const downloads = union(lines.filter(isDownload).map(span));
  const first = Math.min(...all.map((s) => s[0]));
  const last = Math.max(...all.map((s) => s[1]));
  const dlStart = downloads[0]?.[0] ?? last;
  const dlEnd = downloads[downloads.length - 1]?.[1] ?? last;
  const creates = lines.filter(isCreate).map(span);
  const sum = (f: (t: ServerTiming) => boolean) => lines.filter(f).reduce((s, t) => s + t.totalMs, 0);
  return {
    wallMs: exitMs - spawnMs,
    startupMs: first - spawnMs,
    beforeFirstDownloadMs: dlStart - first,
    downloadsMs: length(downloads),
    gapsMs: dlEnd - dlStart - length(downloads),
    tailMs: exitMs - dlEnd,
    createMs: sum(isCreate),
    firstCreateMs: lines.filter((t) => isCreate(t) && t.startMs < dlStart).reduce((s, t) => s + t.totalMs, 0),
    createHiddenMs: creates.reduce((s, c) => s + overlapWith(c, downloads), 0),
    describeMs: sum((t) => !isDownload(t) && !isCreate(t) && !isDelete(t) && !isList(t)),
    deleteMs: sum(isDelete),
    serverIdleMs:
      exitMs -
      spawnMs -
      length(union(all).map(([a, b]): Span => [Math.max(a, spawnMs), Math.min(b, exitMs)])),
  };
}
