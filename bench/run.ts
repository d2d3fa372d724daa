/**
 * `npm run bench` — measures qnb against curl side by side and writes bench/RESULTS.md.
 * See bench/README.md for what each number means.
 *
 *   node --import tsx bench/run.ts [--quick] [--only download,static,cli,upload,overlap,memory,list] [--out FILE]
 *
 * Env: QNB_BENCH_MB (speed size, default 512; --quick 128), QNB_BENCH_MEM_MB (memory size, default
 * 2048; --quick 128), QNB_BENCH_REPS (default 4; --quick 3), QNB_BENCH_MEM_REPS (default 3),
 * QNB_BENCH_BUDGET_S (hard stop, default 720), QNB_BENCH_OVERLAP_MB (size of each of the 5
 * collections of the overlap section, default 100; --quick 32), QNB_BENCH_OVERLAP_REPS (runs of each mode, default 3),
 * QNB_BENCH_OVERLAP_3=1 (also 3 in flight), QNB_BENCH_TIMELINES (a folder that keeps the overlap
 * section's per-run request timelines, timeline-<in flight>-<rep>.json), QNB_BENCH_DL_VARIANTS / QNB_BENCH_UP_VARIANTS
 * (bench-local experiments run beside qnb's exact path; "none" for none), QNB_BENCH_CLI_PATCHES
 * (patched dist/ copies run beside the CLI, default hwm1m), QNB_BENCH_MEM_MALLOC=0 (skip the
 * malloc diagnosis restore).
 *
 * Needs `npm run build` first (dist/cli/main.js); `npm run bench` does that.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeTestCert } from '../test/helpers/tls-cert.js';
import { makeBackupsFolder } from './lib/backups-fixture.js';
import { diskCounters, freeBytes, loadAvg, machineFacts, processCpuS } from './lib/machine.js';
import { hasNginx, NGINX, startStaticServer } from './lib/nginx.js';
import { type OverlapTimeline, overlapTimeline } from './lib/overlap-timeline.js';
import { makePatchedCli, PATCHES } from './lib/patched-cli.js';
import {
  hasGnuTime,
  killAll,
  killAllSync,
  procCpuMs,
  type RunResult,
  runMeasured,
  runOk,
  spawnTracked,
  stopChild,
} from './lib/proc.js';
import { type BenchServer, type ServerTiming, startBenchServer } from './lib/server.js';
import { fmt, fmtMb, fmtS, listS, mbps, median, table } from './lib/stats.js';

// ---------------------------------------------------------------------------------------------
// Settings

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    out: { type: 'string' },
  },
});
const env = process.env;
const QUICK = Boolean(flags.quick);
/** Linux shares CPU between sessions rather than threads (the hog's figure depends on it). */
const AUTOGROUP = (() => {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
})();
const SPEED_MB = Number(env.QNB_BENCH_MB ?? (QUICK ? 128 : 512));
const MEM_MB_WANTED = Number(env.QNB_BENCH_MEM_MB ?? (QUICK ? 128 : 2048));
const REPS = Math.max(3, Number(env.QNB_BENCH_REPS ?? (QUICK ? 3 : 4)));
const MEM_REPS = Math.max(1, Number(env.QNB_BENCH_MEM_REPS ?? (QUICK ? 1 : 3)));
const BUDGET_MS = Number(env.QNB_BENCH_BUDGET_S ?? 720) * 1000;
const variantList = (v: string | undefined, dflt: string) =>
  (v ?? dflt) === 'none'
    ? []
    : (v ?? dflt)
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
const DL_VARIANTS = variantList(env.QNB_BENCH_DL_VARIANTS, 'hwm1m,nohash,discard,http-discard');
const UP_VARIANTS = variantList(env.QNB_BENCH_UP_VARIANTS, 'none');
const CLI_PATCHES = variantList(env.QNB_BENCH_CLI_PATCHES, 'none');
/** Diagnosis run: the same restore with glibc malloc told not to grow its mmap threshold. */
const MALLOC_VARIANT = (env.QNB_BENCH_MEM_MALLOC ?? '1') !== '0';
const MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_ARENA_MAX: '2' };
const MALLOC_ENV_TEXT = Object.entries(MALLOC_ENV)
  .map(([k, v]) => `${k}=${v}`)
  .join(' ');
const OVERLAP_REPS = Math.max(1, Number(env.QNB_BENCH_OVERLAP_REPS ?? 3));
const SECTIONS = new Set(
  (flags.only ?? 'download,static,tls,cli,upload,overlap,memory,list').split(',').map((s) => s.trim()),
);

const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
const REPO_DIR = join(BENCH_DIR, '..');
const BUILT_BIN = join(REPO_DIR, 'dist', 'cli', 'main.js');
/** The CLI the bench runs: a copy of dist/ taken at the start (others may rebuild dist/ meanwhile). */
let QNB_BIN = BUILT_BIN;
/** The folder holding that copy (dist/, package.json, node_modules link). */
let QNB_COPY = REPO_DIR;
const OUT_FILE = flags.out ?? join(BENCH_DIR, 'RESULTS.md');
const NODE = process.execPath;
const TSX = ['--import', 'tsx'];
const COLLECTION = 'papers';

const started = Date.now();
const timeLeft = () => BUDGET_MS - (Date.now() - started);

// ---------------------------------------------------------------------------------------------
// Cleanup: every child by PID (its own process group), the temp folder — also on failure.

let root: string | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await killAll();
    if (root) await rm(root, { recursive: true, force: true }).catch(() => {});
  })();
  return cleaning;
}
process.on('exit', () => {
  killAllSync();
  if (root) rmSync(root, { recursive: true, force: true });
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    console.error(`\n${sig}: stopping the bench and cleaning up…`);
    void cleanup().finally(() => process.exit(130));
  });
}
const hardStop = setTimeout(() => {
  console.error(`bench: time budget of ${BUDGET_MS / 1000} s used up; stopping (no RESULTS.md written)`);
  void cleanup().finally(() => process.exit(3));
}, BUDGET_MS);
hardStop.unref();

const log = (msg: string) =>
  console.error(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}`);

// ---------------------------------------------------------------------------------------------
// Small helpers

async function http(method: string, url: string): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(url, { method });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

interface SnapshotInfo {
  name: string;
  size: number;
  checksum: string;
}

async function createSnapshot(server: BenchServer): Promise<SnapshotInfo & { serverMs: number }> {
  const since = server.seen();
  const r = await http('POST', `${server.url}/collections/${COLLECTION}/snapshots?wait=true`);
  if (r.status !== 200) throw new Error(`create snapshot: HTTP ${r.status} ${r.text}`);
  const t = await server.timing('POST', `/collections/${COLLECTION}/snapshots`, since);
  return { ...(r.json as { result: SnapshotInfo }).result, serverMs: t?.totalMs ?? Number.NaN };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest('hex');
}

const qnbEnv = (): NodeJS.ProcessEnv => ({
  PATH: env.PATH,
  HOME: env.HOME,
  LANG: 'C.UTF-8',
  ...(env.TZ ? { TZ: env.TZ } : {}),
});

function lastJsonLine<T>(r: RunResult): T {
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(`expected a JSON line, got:\n${r.stdout.slice(-1000)}\n${r.stderr.slice(-1000)}`);
  }
}

/** One timed run of one contender. */
interface Sample {
  rep: number;
  /** Client-side duration of the transfer. */
  ms: number;
  bytes: number;
  clientCpuMs: number;
  server?: ServerTiming;
  /** Extra per-contender numbers. */
  extra?: Record<string, number>;
}

interface Contender {
  key: string;
  label: string;
  samples: Sample[];
  run(rep: number): Promise<Sample>;
}

/** Runs each contender once per rep, rotating the order every rep so no one always goes first. */
async function alternate(
  contenders: Contender[],
  reps: number,
  reserveMs: number,
  what: string,
): Promise<number> {
  let done = 0;
  let repMs = 0;
  for (let rep = 1; rep <= reps; rep++) {
    if (rep > 3 && timeLeft() < reserveMs + repMs * 1.5) {
      log(`${what}: stopping after ${done} reps to stay inside the time budget`);
      break;
    }
    const t0 = Date.now();
    const k = (rep - 1) % contenders.length;
    const order = [...contenders.slice(k), ...contenders.slice(0, k)];
    for (const c of order) {
      const s = await c.run(rep);
      c.samples.push(s);
      log(`${what} rep ${rep}: ${c.key} ${fmtS(s.ms)} s (${fmt(mbps(s.bytes, s.ms), 0)} MB/s)`);
    }
    done++;
    repMs = Date.now() - t0;
  }
  return done;
}

/** Median throughput and a row of numbers for one contender. */
function summarize(c: Contender) {
  const bytes = c.samples[0]?.bytes ?? 0;
  const ms = median(c.samples.map((s) => s.ms));
  return {
    ms,
    mbps: mbps(bytes, ms),
    clientCpuMs: median(c.samples.map((s) => s.clientCpuMs)),
    serverMs: median(c.samples.map((s) => s.server?.totalMs ?? Number.NaN)),
    serverRecvMs: median(c.samples.map((s) => s.server?.recvMs ?? Number.NaN)),
    serverCpuMs: median(c.samples.map((s) => s.server?.cpuMs ?? Number.NaN)),
  };
}

/** Median over reps of (reference time / contender time) for the same rep: > 1 means faster than the reference. */
function pairedRatio(c: Contender, ref: Contender): number {
  const ratios = c.samples.flatMap((s) => {
    const r = ref.samples.find((x) => x.rep === s.rep);
    return r ? [r.ms / s.ms] : [];
  });
  return median(ratios);
}

const verdict = (ok: boolean) => (ok ? '✅ meets target' : '❌ misses target');

// ---------------------------------------------------------------------------------------------
// Sections

interface Section {
  md: string;
  verdicts: string[][];
}

const CURL_DL = (file: string, url: string) =>
  `curl -s -o ${file} -H 'Accept-Encoding: identity' -w '%{time_total} %{size_download} %{http_code}' ${url}`;

async function downloadSection(server: BenchServer, snap: SnapshotInfo, dir: string): Promise<Section> {
  const url = `${server.url}/collections/${COLLECTION}/snapshots/${encodeURIComponent(snap.name)}`;
  const file = join(dir, 'download.snapshot');
  const stats = join(dir, 'time.txt');
  const prefix = `/collections/${COLLECTION}/snapshots/`;

  const curlOnce = async (rep: number, after: 'none' | 'fsync' | 'sha256+fsync'): Promise<Sample> => {
    await rm(file, { force: true });
    const since = server.seen();
    const r = await runMeasured(
      'curl',
      [
        '-s',
        '-o',
        file,
        '-H',
        'Accept-Encoding: identity',
        '-w',
        '%{time_total} %{size_download} %{http_code}',
        url,
      ],
      stats,
      { timeoutMs: 300_000 },
    );
    const [t, size, code] = r.stdout.trim().split(/\s+/);
    if (r.code !== 0 || code !== '200' || Number(size) !== snap.size)
      throw new Error(`curl download failed: exit ${r.code}, HTTP ${code}, ${size} of ${snap.size} bytes`);
    let ms = Number(t) * 1000;
    const extra: Record<string, number> = {};
    if (after === 'sha256+fsync') {
      // openssl uses the CPU's SHA extensions like Node does (coreutils sha256sum does not)
      const h = await runOk('openssl', ['dgst', '-sha256', '-r', file]);
      if (!h.stdout.startsWith(snap.checksum)) throw new Error(`openssl sha256 of curl's copy: ${h.stdout}`);
      extra.sha256Ms = h.wallMs;
      ms += h.wallMs;
    }
    if (after !== 'none') {
      const s = await runOk('sync', [file]);
      extra.fsyncMs = s.wallMs;
      ms += s.wallMs;
    }
    const server_ = await server.timing('GET', prefix, since);
    await rm(file, { force: true });
    return {
      rep,
      ms,
      bytes: snap.size,
      clientCpuMs: (r.stats.userS + r.stats.sysS) * 1000,
      ...(server_ ? { server: server_ } : {}),
      extra,
    };
  };

  const qnbOnce = async (rep: number, variant: string, keepAs?: string): Promise<Sample> => {
    await rm(file, { force: true });
    const since = server.seen();
    const r = await runOk(
      NODE,
      [...TSX, join(BENCH_DIR, 'qnb-download.ts'), server.url, COLLECTION, snap.name, file, variant],
      {
        cwd: REPO_DIR,
        timeoutMs: 300_000,
      },
    );
    const out = lastJsonLine<{ ms: number; bytes: number; sha256: string; cpuMs: number; maxRssKb: number }>(
      r,
    );
    if (out.bytes !== snap.size)
      throw new Error(`qnb download (${variant}): ${out.bytes} of ${snap.size} bytes`);
    if (out.sha256 !== snap.checksum && !(/nohash|discard/.test(variant) && out.sha256 === ''))
      throw new Error(`qnb download (${variant}): sha256 ${out.sha256} ≠ server checksum ${snap.checksum}`);
    const server_ = await server.timing('GET', prefix, since);
    if (keepAs) await rename(file, keepAs);
    else await rm(file, { force: true });
    return {
      rep,
      ms: out.ms,
      bytes: out.bytes,
      clientCpuMs: out.cpuMs,
      ...(server_ ? { server: server_ } : {}),
      extra: { maxRssKb: out.maxRssKb },
    };
  };

  // Warm-up (not counted): page cache, JIT, and proof that both get the same bytes.
  log('download: warm-up');
  await rm(file, { force: true });
  await runOk('curl', ['-s', '-o', file, '-H', 'Accept-Encoding: identity', url]);
  const curlSha = await sha256File(file);
  if (curlSha !== snap.checksum)
    throw new Error(`curl's copy has sha256 ${curlSha}, server says ${snap.checksum}`);
  await rm(file, { force: true });
  await qnbOnce(0, 'exact', join(dir, 'upload-source.snapshot'));

  const contenders: Contender[] = [
    { key: 'curl', label: '(a) curl', samples: [], run: (rep) => curlOnce(rep, 'none') },
    {
      key: 'qnb',
      label: '(b) qnb downloadSnapshotToFile (exact code: socket → ring, sha256 on a worker, fsync)',
      samples: [],
      run: (rep) => qnbOnce(rep, 'exact'),
    },
    {
      key: 'curl+fsync',
      label: 'curl, then `sync FILE` (durable like qnb)',
      samples: [],
      run: (rep) => curlOnce(rep, 'fsync'),
    },
    {
      key: 'curl+sha256+fsync',
      label:
        'curl, then `openssl dgst -sha256 FILE`, then `sync FILE` (same guarantees as qnb, one after the other)',
      samples: [],
      run: (rep) => curlOnce(rep, 'sha256+fsync'),
    },
    ...DL_VARIANTS.map((v) => ({
      key: `variant:${v}`,
      label: `bench-local variant \`${v}\` (see lib/download-variants.ts)`,
      samples: [] as Sample[],
      run: (rep: number) => qnbOnce(rep, v),
    })),
  ];
  const reserve = reserveAfter('download');
  const reps = await alternate(contenders, REPS, reserve, 'download');
  const curl = contenders[0]!;
  const qnb = contenders[1]!;
  const cs = summarize(curl);
  const qs = summarize(qnb);
  const ratio = qs.mbps / cs.mbps;
  const paired = pairedRatio(qnb, curl);
  const rows = contenders.map((c) => {
    const s = summarize(c);
    return [
      c.label,
      fmt(s.mbps, 0),
      fmtS(s.ms),
      listS(c.samples.map((x) => x.ms)),
      fmt(s.mbps / cs.mbps, 2),
      fmt(pairedRatio(c, curl), 2),
      fmtS(s.clientCpuMs),
      fmtS(s.serverMs),
      fmtS(s.serverCpuMs),
    ];
  });
  const md = [
    `## 1. Snapshot download — ${SPEED_MB} MB snapshot (${snap.size.toLocaleString('en-US')} bytes)`,
    '',
    `Same snapshot file, same server process, ${reps} repetitions; the order of the contenders rotates every repetition. ` +
      'Variants: `hwm1m` = streamToFile with 1 MiB highWaterMark on the hashing Transform and the WriteStream; `nohash` = no sha256; ' +
      '`discard` / `http-discard` = receive the body and drop it (undici / node:http; no hash, no file). ' +
      'Every qnb run checks its sha256 against the server checksum; every curl run checks the size (and the warm-up checked curl’s sha256).',
    '',
    table(
      [
        'contender',
        'median MB/s',
        'median s',
        'runs (s)',
        'ratio vs curl (medians)',
        'ratio vs curl (paired, median)',
        'client CPU s',
        'server: response s',
        'server CPU s',
      ],
      rows,
    ),
    '',
    `**qnb/curl = ${fmt(ratio, 2)}** (paired per repetition: ${fmt(paired, 2)}). The download targets (SPEC.md, issue 14) are for a server that costs what Qdrant costs, a static file server with sendfile: section 1b. The test server streams the file through its JavaScript event loop on the same two cores, so its own CPU is in every row here.`,
    '',
    'Commands:',
    '',
    '```sh',
    `# create the snapshot once (the server streams it from disk afterwards)`,
    `curl -s -X POST '${'$URL'}/collections/${COLLECTION}/snapshots?wait=true'`,
    `# (a) curl — time = curl's own %{time_total}`,
    CURL_DL('$FILE', `"$URL/collections/${COLLECTION}/snapshots/$SNAP"`),
    `# (b) qnb — time measured inside the process around downloadSnapshotToFile() (core/http-get-file.ts)`,
    `node --import tsx bench/qnb-download.ts "$URL" ${COLLECTION} "$SNAP" "$FILE"`,
    `# curl + fsync — (a), then:`,
    'sync "$FILE"',
    `# curl + sha256 + fsync — (a), then (times added up):`,
    'openssl dgst -sha256 -r "$FILE"; sync "$FILE"',
    `# variants`,
    `node --import tsx bench/qnb-download.ts "$URL" ${COLLECTION} "$SNAP" "$FILE" VARIANT`,
    '```',
  ].join('\n');
  return {
    md,
    verdicts: [
      [
        `download ${SPEED_MB} MB from the test server: qnb/curl`,
        `${fmt(ratio, 2)} (${fmt(qs.mbps, 0)} vs ${fmt(cs.mbps, 0)} MB/s; paired ${fmt(paired, 2)})`,
        '(targets: the static server, 1b)',
        '–',
      ],
    ],
  };
}

/** A process that keeps one core busy (bounded by its own deadline; stopped by PID). */
async function withCpuHog<T>(fn: () => Promise<T>): Promise<T> {
  const seconds = Math.max(5, Math.ceil(timeLeft() / 1000));
  const hog = spawnTracked(NODE, [
    '-e',
    `const end = Date.now() + ${seconds * 1000}; while (Date.now() < end) {}`,
  ]);
  try {
    return await fn();
  } finally {
    await stopChild(hog, 1000);
  }
}

/** A memory file system (tmpfs) for the download that shows qnb's CPU side without the disk. */
const MEM_DIR = '/dev/shm';

/** One `curl -o URL` into `file` (extra curl arguments first), checked: HTTP 200 and `size` bytes. */
async function curlOSample(
  rep: number,
  o: {
    url: string;
    file: string;
    stats: string;
    size: number;
    curlArgs?: string[];
    what: string;
    keep?: boolean;
  },
): Promise<Sample> {
  await rm(o.file, { force: true });
  const w = '%{time_total} %{size_download} %{http_code}';
  const r = await runMeasured('curl', ['-s', ...(o.curlArgs ?? []), '-o', o.file, '-w', w, o.url], o.stats);
  const [t, size, code] = r.stdout.trim().split(/\s+/);
  if (r.code !== 0 || code !== '200' || Number(size) !== o.size)
    throw new Error(`curl -o ${o.what}: exit ${r.code}, HTTP ${code}, ${size} of ${o.size} bytes`);
  if (!o.keep) await rm(o.file, { force: true });
  return { rep, ms: Number(t) * 1000, bytes: o.size, clientCpuMs: (r.stats.userS + r.stats.sysS) * 1000 };
}

/** A contender's run with the server process's CPU (user + sys, /proc) over that sample added. */
const withServerCpu =
  (pid: number, fn: (rep: number) => Promise<Sample>) =>
  async (rep: number): Promise<Sample> => {
    const before = await procCpuMs(pid);
    const sample = await fn(rep);
    return { ...sample, extra: { ...sample.extra, serverCpuMs: (await procCpuMs(pid)) - before } };
  };

/**
 * 1b. The same snapshot bytes from nginx (`sendfile on`: the server costs what Qdrant costs to
 * stream a file), so the figures are the client's own cost: plain curl, the same-guarantee shell
 * pipeline, qnb (and qnb's code before issue 14) — also with one core kept busy by a CPU hog.
 */
async function staticDownloadSection(snap: SnapshotInfo, dir: string, source: string): Promise<Section> {
  if (!hasNginx()) throw new Error(`${NGINX} is missing (apt-get install -y nginx)`);
  const nginx = await startStaticServer(join(dir, 'nginx'), source, COLLECTION, snap.name);
  try {
    const url = `${nginx.url}/collections/${COLLECTION}/snapshots/${encodeURIComponent(snap.name)}`;
    const file = join(dir, 'static.snapshot');
    const stats = join(dir, 'time-static.txt');
    // the same download into memory shows qnb's CPU side without the disk (skipped when tmpfs lacks room)
    const memFile =
      (await freeBytes(MEM_DIR).catch(() => 0)) > 2 * snap.size
        ? join(MEM_DIR, `qnb-bench-${process.pid}.snapshot`)
        : undefined;
    const curlO = (rep: number) =>
      curlOSample(rep, { url, file, stats, size: snap.size, what: 'from nginx' });
    const pipelineOnce = async (rep: number): Promise<Sample> => {
      await rm(file, { force: true });
      const sh = `set -o pipefail; curl -s -H 'Accept-Encoding: identity' '${url}' | tee '${file}' | sha256sum`;
      const r = await runMeasured('bash', ['-c', sh], stats);
      if (r.code !== 0 || !r.stdout.startsWith(snap.checksum))
        throw new Error(`curl | tee | sha256sum: exit ${r.code}, ${r.stdout.trim()} ≠ ${snap.checksum}`);
      const s = await runOk('sync', [file]);
      await rm(file, { force: true });
      return {
        rep,
        ms: r.stats.wallS * 1000 + s.wallMs,
        bytes: snap.size,
        clientCpuMs: (r.stats.userS + r.stats.sysS) * 1000,
        extra: { syncMs: s.wallMs },
      };
    };
    // curl -o then `sync FILE`: durable like qnb, no hash
    const curlSyncOnce = async (rep: number): Promise<Sample> => {
      const sample = await curlOSample(rep, {
        url,
        file,
        stats,
        size: snap.size,
        what: 'from nginx',
        keep: true,
      });
      const s = await runOk('sync', [file]);
      await rm(file, { force: true });
      return { ...sample, ms: sample.ms + s.wallMs, extra: { syncMs: s.wallMs } };
    };
    const qnbOnce = async (rep: number, variant: string, into = file): Promise<Sample> => {
      await rm(into, { force: true });
      const r = await runOk(
        NODE,
        [...TSX, join(BENCH_DIR, 'qnb-download.ts'), nginx.url, COLLECTION, snap.name, into, variant],
        { cwd: REPO_DIR, timeoutMs: 300_000 },
      );
      const out = lastJsonLine<{
        ms: number;
        tailMs?: number;
        bytes: number;
        sha256: string;
        cpuMs: number;
        maxRssKb: number;
        threadsS?: { main: number; busiest: number[]; rest: number };
      }>(r);
      const receiveOnly = variant.endsWith('-discard');
      const th = out.threadsS;
      const threads: Record<string, number> = th
        ? { mainS: th.main, workerS: th.busiest[0] ?? 0, restS: th.rest }
        : {};
      if (out.bytes !== snap.size || (out.sha256 !== snap.checksum && !receiveOnly))
        throw new Error(`qnb download (${variant}) from nginx: ${out.bytes} bytes, sha256 ${out.sha256}`);
      await rm(into, { force: true });
      return {
        rep,
        ms: out.ms,
        bytes: out.bytes,
        clientCpuMs: out.cpuMs,
        extra: {
          maxRssKb: out.maxRssKb,
          ...threads,
          ...(out.tailMs === undefined ? {} : { tailMs: out.tailMs }),
        },
      };
    };
    const make = (suffix: string): Contender[] =>
      (
        [
          { key: `curl-o${suffix}`, label: `curl -o${suffix}`, samples: [], run: curlO },
          {
            key: `pipeline${suffix}`,
            label: `curl | tee FILE | sha256sum; sync FILE${suffix}`,
            samples: [],
            run: pipelineOnce,
          },
          {
            key: `qnb${suffix}`,
            label: `qnb download (exact code)${suffix}`,
            samples: [],
            run: (r) => qnbOnce(r, 'exact'),
          },
          {
            key: `inline${suffix}`,
            label: `qnb before issue 14 (\`inline\`: node:http, hash on the receiving thread, one fsync)${suffix}`,
            samples: [],
            run: (r) => qnbOnce(r, 'inline'),
          },
          {
            key: `streamed${suffix}`,
            label: `qnb's node:http fallback (\`streamed\`: streamToFile, background fdatasync)${suffix}`,
            samples: [],
            run: (r) => qnbOnce(r, 'streamed'),
          },
          {
            key: `receive${suffix}`,
            label: `node:http receive only, no hash, no file (\`http-discard\`)${suffix}`,
            samples: [],
            run: (r) => qnbOnce(r, 'http-discard'),
          },
          {
            key: `raw-receive${suffix}`,
            label: `socket read into one buffer, no hash, no file (\`raw-discard\`)${suffix}`,
            samples: [],
            run: (r) => qnbOnce(r, 'raw-discard'),
          },
          {
            key: `curl-sync${suffix}`,
            label: `curl -o; sync FILE (durable, no hash)${suffix}`,
            samples: [],
            run: curlSyncOnce,
          },
          ...(memFile
            ? [
                {
                  key: `qnb-mem${suffix}`,
                  label: `qnb download (exact code) into memory (${MEM_DIR}, tmpfs: no disk)${suffix}`,
                  samples: [],
                  run: (r: number) => qnbOnce(r, 'exact', memFile),
                },
              ]
            : []),
        ] as Contender[]
      ).map((c) => ({ ...c, run: withServerCpu(nginx.pid, c.run) }));
    log('static download: warm-up');
    await curlO(0);
    await qnbOnce(0, 'exact');
    const idle = make('');
    const hogged = make(' + CPU hog');
    const reserve = reserveAfter('download') / 2;
    const repsIdle = await alternate(idle, REPS, reserve + 30_000, 'static download');
    const repsHog = await withCpuHog(() => alternate(hogged, REPS, reserve, 'static download + hog'));
    const rowsFor = (cs: Contender[]) => {
      const curl = cs[0] as Contender;
      const pipe = cs[1] as Contender;
      return cs.map((c) => {
        const s = summarize(c);
        return [
          c.label,
          fmt(s.mbps, 0),
          fmtS(s.ms),
          listS(c.samples.map((x) => x.ms)),
          fmt(pairedRatio(c, curl), 2),
          fmt(pairedRatio(c, pipe), 2),
          fmtS(s.clientCpuMs),
          fmtS(median(c.samples.map((x) => x.extra?.serverCpuMs ?? 0))),
          c.samples[0]?.extra?.tailMs === undefined
            ? '–'
            : fmt(median(c.samples.map((x) => x.extra?.tailMs ?? 0)), 0),
          c.samples[0]?.extra?.maxRssKb ? fmtMb(median(c.samples.map((x) => x.extra?.maxRssKb ?? 0))) : '–',
        ];
      });
    };
    const figures = (cs: Contender[]) => {
      const [curl, pipe, qnb, inline, streamed, receive, raw, curlSync, mem] = cs as [
        Contender,
        Contender,
        Contender,
        Contender,
        Contender,
        Contender,
        Contender,
        Contender,
        Contender | undefined,
      ];
      const cpu = (c: Contender) => median(c.samples.map((x) => x.clientCpuMs + (x.extra?.serverCpuMs ?? 0)));
      return {
        vsCurl: pairedRatio(qnb, curl),
        vsPipe: pairedRatio(qnb, pipe),
        inlineVsCurl: pairedRatio(inline, curl),
        streamedVsCurl: pairedRatio(streamed, curl),
        receiveVsCurl: pairedRatio(receive, curl),
        rawVsCurl: pairedRatio(raw, curl),
        // the disk: qnb (durable) against curl -o + sync, and qnb into memory
        vsCurlSync: pairedRatio(qnb, curlSync),
        qnbS: summarize(qnb).ms / 1000,
        curlSyncS: summarize(curlSync).ms / 1000,
        curlS: summarize(curl).ms / 1000,
        memVsCurl: mem ? pairedRatio(mem, curl) : undefined,
        memS: mem ? summarize(mem).ms / 1000 : undefined,
        memCpuS: mem ? median(mem.samples.map((x) => x.clientCpuMs)) / 1000 : undefined,
        // CPU of client + server ÷ (2 cores × wall): near 1 = the cores are the limit
        qnbCores: cpu(qnb) / summarize(qnb).ms,
        curlCores: cpu(curl) / summarize(curl).ms,
        qnbCpuS: cpu(qnb) / 1000,
        curlCpuS: cpu(curl) / 1000,
        // qnb's threads (CPU s, medians): receiving (main), hashing (the ring's worker), the rest
        // (libuv's pool: the writes and the background fdatasync; V8)
        qnbThreads: (['mainS', 'workerS', 'restS'] as const).map((k) =>
          median(qnb.samples.map((x) => x.extra?.[k] ?? 0)),
        ),
      };
    };
    const threadsText = (t: readonly number[]) => t.map((x) => fmt(x, 2)).join(' / ');
    const fi = figures(idle);
    const fh = figures(hogged);
    const head = [
      'contender',
      'median MB/s',
      'median s',
      'runs (s)',
      'speed vs curl -o (paired)',
      'speed vs pipeline (paired)',
      'client CPU s',
      'server (nginx) CPU s',
      'last byte → fsynced, ms',
      'peak RSS MB',
    ];
    const md = [
      `## 1b. Snapshot download from nginx — ${SPEED_MB} MB (${snap.size.toLocaleString('en-US')} bytes)`,
      '',
      `The same snapshot file served by nginx (${NGINX}, \`sendfile on\`, 127.0.0.1, started by the bench with its own prefix; ` +
        'the kernel copies the file, so the server costs about what Qdrant costs), so the figures show the client’s own cost. ' +
        `${repsIdle} repetitions as the machine is (load average in the Machine table); then ${repsHog} with one core kept busy by a CPU hog the bench starts (\`node -e 'while(…){}'\`, stopped by PID). ` +
        'Order rotates every repetition. _speed vs X_ = median over repetitions of X’s time ÷ this contender’s time (> 1 = faster). ' +
        'curl -o: curl’s `%{time_total}` (no hash, no fsync). Pipeline: wall time of `bash -c` + `sync FILE` (same guarantees as qnb: sha256 of the bytes written, durable). ' +
        'qnb: inside the process, from the request to the file fsynced and closed, sha256 checked against the server’s; ' +
        '_last byte → fsynced_: what is left after the last byte arrived (final writes, fsync).',
      '',
      '### Without the hog',
      '',
      table(head, rowsFor(idle)),
      '',
      '### One core kept busy',
      '',
      table(head, rowsFor(hogged)),
      '',
      `qnb vs curl -o: **${fmt(fi.vsCurl, 2)}** without the hog, **${fmt(fh.vsCurl, 2)}** with it (target ≥ 0.9); ` +
        `qnb vs the pipeline: **${fmt(fi.vsPipe, 2)}×** without, **${fmt(fh.vsPipe, 2)}×** with the hog (target ≥ 1.8×). ` +
        `qnb before issue 14 vs curl -o: ${fmt(fi.inlineVsCurl, 2)} without, ${fmt(fh.inlineVsCurl, 2)} with the hog; ` +
        `the node:http path (qnb's fallback) ${fmt(fi.streamedVsCurl, 2)} / ${fmt(fh.streamedVsCurl, 2)}. ` +
        `Receiving alone, bytes dropped: node:http ${fmt(fi.receiveVsCurl, 2)} / ${fmt(fh.receiveVsCurl, 2)} of curl -o, ` +
        `a socket read into one buffer ${fmt(fi.rawVsCurl, 2)} / ${fmt(fh.rawVsCurl, 2)} (why qnb reads the socket itself: core/http-get-file.ts).`,
      '',
      `What limits it without the hog — the disk: qnb makes the file durable before it says ok (a background fdatasync while it writes, fsync at the end); curl -o leaves the bytes in the page cache. ` +
        `curl -o took ${fmt(fi.curlS, 2)} s (${fmt(SPEED_MB / fi.curlS, 0)} MB/s into the page cache) and ${fmt(fi.curlSyncS, 2)} s with \`sync FILE\` after it; ` +
        `qnb took ${fmt(fi.qnbS, 2)} s (${fmt(fi.vsCurlSync, 2)}× curl -o + sync). ` +
        (fi.memS === undefined
          ? ''
          : `The same qnb download into memory (${MEM_DIR}, tmpfs: nothing reaches a disk) took ${fmt(fi.memS, 2)} s (${fmt(fi.memVsCurl ?? Number.NaN, 2)} of curl -o) and ${fmt(fi.memCpuS ?? Number.NaN, 2)} CPU-s: ` +
            `that is qnb's own cost, and the ${fmt(fi.qnbS - fi.memS, 2)} s more onto the disk is the disk taking in the bytes. `) +
        'So ≥ 0.9 of curl -o with the same durability needs a disk that takes in data at about the rate curl -o fills the page cache (bench/FINDINGS.md, session 11).',
      '',
      `What limits it with the hog — the CPU: curl -o and nginx together used ${fmt(fi.curlCpuS, 2)} s of CPU (${fmt(fi.curlCores, 2)} cores busy on average over curl's run); ` +
        `qnb and nginx ${fmt(fi.qnbCpuS, 2)} s (${fmt(fi.qnbCores, 2)} cores): qnb does curl's receive and write plus a sha256 of every byte ` +
        "(≈ 0.3 s per 512 MB on one core at 1.7 GB/s) and the background fdatasync. CPU s per thread, receiving / hashing (the ring's worker) / the rest (libuv's pool: the writes and fdatasync; V8): " +
        `${threadsText(fi.qnbThreads)} without the hog, ${threadsText(fh.qnbThreads)} with it. ` +
        'On an idle machine the hash and the writes run beside the receive on the second core. The hog runs in a session of its own, as every ' +
        `process the bench starts, and ${AUTOGROUP ? 'Linux shares the CPU between sessions, not threads (autogroup is on: /proc/sys/kernel/sched_autogroup_enabled = 1)' : 'autogroup is off here (/proc/sys/kernel/sched_autogroup_enabled ≠ 1): the CPU is shared between threads'}; ` +
        "with autogroup and the hog busy, qnb's process as a whole gets about one core, so its wall time is its CPU time and the ratio " +
        `to curl -o is close to the ratio of their CPU (${fmt(fh.curlCpuS, 2)} s ÷ ${fmt(fh.qnbCpuS, 2)} s, nginx included) — the sha256 that curl -o does not do sets that floor (bench/FINDINGS.md). ` +
        (fh.memS === undefined
          ? ''
          : `Into memory with the hog qnb took ${fmt(fh.memS, 2)} s (${fmt(fh.memVsCurl ?? Number.NaN, 2)} of curl -o, ${fmt(fh.memCpuS ?? Number.NaN, 2)} CPU-s); `) +
        `onto the disk ${fmt(fh.qnbS, 2)} s.`,
      '',
      '```sh',
      `curl -s -o "$FILE" -w '%{time_total}' "$NGINX/collections/${COLLECTION}/snapshots/$SNAP"`,
      `bash -c "set -o pipefail; curl -s -H 'Accept-Encoding: identity' \\"$URL\\" | tee \\"$FILE\\" | sha256sum"; sync "$FILE"`,
      `node --import tsx bench/qnb-download.ts "$NGINX" ${COLLECTION} "$SNAP" "$FILE" [inline]`,
      '```',
    ].join('\n');
    const v = (x: number, t: number) => verdict(x >= t);
    return {
      md,
      verdicts: [
        [
          `nginx download ${SPEED_MB} MB: qnb vs curl -o (as is / CPU hog)`,
          `${fmt(fi.vsCurl, 2)} / ${fmt(fh.vsCurl, 2)}`,
          '≥ 0.9',
          v(Math.min(fi.vsCurl, fh.vsCurl), 0.9),
        ],
        [
          `nginx download ${SPEED_MB} MB: qnb vs curl|tee|sha256sum+sync (as is / CPU hog)`,
          `${fmt(fi.vsPipe, 2)}× / ${fmt(fh.vsPipe, 2)}×`,
          '≥ 1.8×',
          v(Math.min(fi.vsPipe, fh.vsPipe), 1.8),
        ],
        [
          `nginx download ${SPEED_MB} MB: qnb vs curl -o; sync FILE, both durable (as is / CPU hog); qnb into memory (tmpfs) vs curl -o`,
          `${fmt(fi.vsCurlSync, 2)}× / ${fmt(fh.vsCurlSync, 2)}×; ${fi.memVsCurl === undefined ? '–' : `${fmt(fi.memVsCurl, 2)} / ${fmt(fh.memVsCurl ?? Number.NaN, 2)}`}`,
          '(not in the issue)',
          '–',
        ],
      ],
    };
  } finally {
    await nginx.stop();
  }
}

/**
 * 1d. The same snapshot over https from nginx (a certificate the bench makes with openssl, trusted
 * through `--cacert` and NODE_EXTRA_CA_CERTS): curl -o, qnb's reader (TLS records decrypted into
 * the ring, core/raw-http.ts) and the path https took before it (node:https + streamToFile).
 */
async function tlsDownloadSection(snap: SnapshotInfo, dir: string, source: string): Promise<Section> {
  if (!hasNginx()) throw new Error(`${NGINX} is missing (apt-get install -y nginx)`);
  const tlsDir = join(dir, 'tls');
  await mkdir(tlsDir, { recursive: true });
  const { certFile, keyFile } = await makeTestCert(tlsDir, 'bench', ['IP:127.0.0.1']);
  const nginx = await startStaticServer(join(dir, 'nginx-tls'), source, COLLECTION, snap.name, {
    certFile,
    keyFile,
  });
  try {
    const base = nginx.httpsUrl as string;
    const url = `${base}/collections/${COLLECTION}/snapshots/${encodeURIComponent(snap.name)}`;
    const file = join(dir, 'tls.snapshot');
    const stats = join(dir, 'time-tls.txt');
    const curlO = (rep: number) =>
      curlOSample(rep, {
        url,
        file,
        stats,
        size: snap.size,
        curlArgs: ['--cacert', certFile],
        what: 'over https',
      });
    const qnbOnce = async (rep: number, variant: string): Promise<Sample> => {
      await rm(file, { force: true });
      const r = await runOk(
        NODE,
        [...TSX, join(BENCH_DIR, 'qnb-download.ts'), base, COLLECTION, snap.name, file, variant],
        {
          cwd: REPO_DIR,
          timeoutMs: 300_000,
          env: { ...process.env, NODE_EXTRA_CA_CERTS: certFile, QNB_BENCH_SIZE: String(snap.size) },
        },
      );
      const out = lastJsonLine<{
        ms: number;
        bytes: number;
        sha256: string;
        cpuMs: number;
        maxRssKb: number;
      }>(r);
      if (out.bytes !== snap.size || out.sha256 !== snap.checksum)
        throw new Error(`qnb download (${variant}) over https: ${out.bytes} bytes, sha256 ${out.sha256}`);
      await rm(file, { force: true });
      return { rep, ms: out.ms, bytes: out.bytes, clientCpuMs: out.cpuMs, extra: { maxRssKb: out.maxRssKb } };
    };
    const cs: Contender[] = (
      [
        { key: 'curl-o-tls', label: 'curl -o (https)', samples: [], run: curlO },
        {
          key: 'qnb-tls',
          label: 'qnb download (exact code: TLS into the ring)',
          samples: [],
          run: (r) => qnbOnce(r, 'exact'),
        },
        {
          key: 'streamed-tls',
          label: 'qnb before (`streamed`: node:https + streamToFile)',
          samples: [],
          run: (r) => qnbOnce(r, 'streamed'),
        },
      ] as Contender[]
    ).map((c) => ({ ...c, run: withServerCpu(nginx.pid, c.run) }));
    log('https download: warm-up');
    await curlO(0);
    await qnbOnce(0, 'exact');
    const reps = await alternate(cs, REPS, reserveAfter('download') / 2, 'https download');
    const [curl, qnb, streamed] = cs as [Contender, Contender, Contender];
    const rows = cs.map((c) => {
      const s = summarize(c);
      const rss = median(c.samples.map((x) => x.extra?.maxRssKb ?? 0));
      return [
        c.label,
        fmt(s.mbps, 0),
        fmtS(s.ms),
        listS(c.samples.map((x) => x.ms)),
        fmt(pairedRatio(c, curl), 2),
        fmtS(s.clientCpuMs),
        fmtS(median(c.samples.map((x) => x.extra?.serverCpuMs ?? 0))),
        rss ? fmtMb(rss) : '–',
      ];
    });
    const vsCurl = pairedRatio(qnb, curl);
    const vsBefore = pairedRatio(qnb, streamed);
    const head = [
      'contender',
      'median MB/s',
      'median s',
      'runs (s)',
      'speed vs curl -o (paired)',
      'client CPU s',
      'server (nginx) CPU s',
      'peak RSS MB',
    ];
    const md = [
      `## 1d. Snapshot download over https from nginx — ${SPEED_MB} MB`,
      '',
      'The same file from the same nginx over TLS (`ssl_protocols TLSv1.2 TLSv1.3`, an EC P-256 certificate the bench makes with openssl; ' +
        'curl trusts it with `--cacert`, qnb through `NODE_EXTRA_CA_CERTS`). ' +
        `${reps} repetitions, order rotating, as the machine is. qnb: from the request to the file fsynced and closed, sha256 checked.`,
      '',
      table(head, rows),
      '',
      `qnb vs curl -o over https: **${fmt(vsCurl, 2)}**; qnb vs its https path before (node:https + streamToFile): **${fmt(vsBefore, 2)}×**. ` +
        'Over TLS each read is one record (≤ 16 KiB) that OpenSSL decrypts on the receiving thread; qnb gathers the records into 1 MiB slots ' +
        "that its worker hashes and libuv's pool writes, as over plain http.",
      '',
      '```sh',
      `curl -s --cacert cert.pem -o "$FILE" "https://127.0.0.1:PORT/collections/${COLLECTION}/snapshots/$SNAP"`,
      `NODE_EXTRA_CA_CERTS=cert.pem node --import tsx bench/qnb-download.ts "https://127.0.0.1:PORT" ${COLLECTION} "$SNAP" "$FILE" [streamed]`,
      '```',
    ].join('\n');
    return {
      md,
      verdicts: [
        [
          `https download ${SPEED_MB} MB: qnb vs curl -o / vs qnb before`,
          `${fmt(vsCurl, 2)} / ${fmt(vsBefore, 2)}×`,
          '(not in the issue)',
          '–',
        ],
      ],
    };
  } finally {
    await nginx.stop();
  }
}

/** What limits the overlap figure, from the timelines and CPU of the runs (section 5). */
function overlapBound(
  timelines: Map<string, OverlapTimeline[]>,
  cpus: Map<string, { qnb: number; server: number; serverMain: number }[]>,
  disks: Map<string, { mb: number; busyMs: number }[]>,
  seqWall: number,
): string {
  const disk = (key: string) => {
    const d = disks.get(key) ?? [];
    return d.length
      ? `${fmt(median(d.map((x) => x.mb)), 0)} MB written, busy ${fmtS(median(d.map((x) => x.busyMs)))} s`
      : 'not measured';
  };
  const med = (key: string, f: (t: OverlapTimeline) => number) => median((timelines.get(key) ?? []).map(f));
  const dlOver = med('2', (t) => t.downloadsMs);
  const dlSeq = med('1', (t) => t.downloadsMs);
  const hideable = med('1', (t) => t.createMs - t.firstCreateMs);
  const best = seqWall - hideable;
  const cores = os.cpus().length;
  const cpuFloor = (1000 * median((cpus.get('2') ?? []).map((c) => c.qnb + c.server))) / cores;
  const serial = med('2', (t) => t.startupMs + t.beforeFirstDownloadMs + t.gapsMs + t.tailMs);
  return [
    `What limits the figure: only the snapshot creations after the first can hide behind downloads (${fmtS(hideable)} s one after another), ` +
      `so with every one hidden and the downloads as fast as one after another the overlap would take ${fmtS(best)} s ` +
      `(**${fmt(best / seqWall, 2)}** of one after another). Measured: overlapped, the downloads took ${fmtS(dlOver)} s against ${fmtS(dlSeq)} s — ` +
      `the creation (copying the collection's data into the tar, then sha256 of the archive, as Qdrant does) and the streaming on the server and ` +
      `the receiving, hashing and writing in qnb share ${cores} cores: the CPU both processes used overlapped needs at least ${fmtS(cpuFloor)} s on ${cores} cores ` +
      `(${fmt(cpuFloor / seqWall, 2)} of one after another), before any other load on the machine. qnb's own serial time outside the downloads ` +
      `(start-up, first collection's describe and creation, gaps, tail) was ${fmtS(serial)} s. ` +
      `The disk under the bench folder (all writers on the machine): overlapped ${disk('2')}; one after another ${disk('1')}.`,
    '',
    "The test server models real Qdrant 1.18's snapshot creation (bench/FINDINGS.md): the collection's data lies in a file written when the " +
      'collection was filled; a snapshot copies it into a tar on disk, then computes the sha256 of the finished archive in a second pass ' +
      '(on a worker thread, as Qdrant does on its runtime threads while other threads serve downloads); no data is generated per snapshot and nothing waits on a timer.',
  ].join('\n');
}

/**
 * 5. backup-qdrant of several collections (`bulk-1`…`bulk-N`, ~MB each): snapshots created while
 * the previous one downloads (QDRANT_SNAPSHOTS_IN_FLIGHT=2, the default) vs one after another (=1).
 */
async function overlapSection(dir: string): Promise<Section> {
  const n = 5;
  const mb = Number(env.QNB_BENCH_OVERLAP_MB ?? (QUICK ? 32 : 100));
  log(`overlap: starting a server with ${n} collections of ${mb} MB`);
  const server = await startBenchServer({
    mb: 1,
    dataDir: join(dir, 'server'),
    maxSeconds: Math.ceil(timeLeft() / 1000) + 30,
    cwd: REPO_DIR,
    extra: { n, mb },
  });
  try {
    const modes = [
      { key: '2', label: 'overlapped (QDRANT_SNAPSHOTS_IN_FLIGHT=2, default)' },
      { key: '1', label: 'one after another (QDRANT_SNAPSHOTS_IN_FLIGHT=1)' },
      ...(env.QNB_BENCH_OVERLAP_3 === '1'
        ? [{ key: '3', label: 'overlapped (QDRANT_SNAPSHOTS_IN_FLIGHT=3)' }]
        : []),
    ];
    const loadBefore = loadAvg();
    const walls = new Map<string, number[]>();
    const serverSums = new Map<string, { create: number; download: number }[]>();
    const timelines = new Map<string, OverlapTimeline[]>();
    /** CPU seconds of the client (GNU time) and of the server process (/proc) per run. */
    const cpus = new Map<string, { qnb: number; server: number; serverMain: number }[]>();
    /** Bytes the disk of the bench folder wrote, and how long it was busy, per run (/proc/diskstats). */
    const disks = new Map<string, { mb: number; busyMs: number }[]>();
    const stats = join(dir, 'time-overlap.txt');
    let bytes = 0;
    for (let rep = 1; rep <= OVERLAP_REPS; rep++) {
      if (
        rep > 1 &&
        timeLeft() < reserveAfter('overlap') + 2 * (median(walls.get('1') ?? [30_000]) + 5_000)
      ) {
        log('overlap: stopping early to stay inside the time budget');
        break;
      }
      for (const m of rep % 2 ? modes : [...modes].reverse()) {
        const backups = join(dir, 'backups');
        await rm(backups, { recursive: true, force: true });
        const args = ['--json', '--backup-dir', backups, '--qdrant-url', server.url, 'backup-qdrant'];
        for (let i = 1; i <= n; i++) args.push('-c', `bulk-${i}`);
        const since = server.seen();
        const serverCpu0 = await processCpuS(server.pid);
        const serverMain0 = await processCpuS(server.pid, true);
        const disk0 = await diskCounters(dir);
        const spawnMs = Date.now();
        const r = await runMeasured(NODE, [QNB_BIN, ...args], stats, {
          cwd: dir,
          env: { ...qnbEnv(), QDRANT_SNAPSHOTS_IN_FLIGHT: m.key },
          timeoutMs: 600_000,
        });
        const exitMs = Date.now();
        const disk1 = await diskCounters(dir);
        if (disk0 && disk1)
          disks.set(m.key, [
            ...(disks.get(m.key) ?? []),
            { mb: (disk1.writtenBytes - disk0.writtenBytes) / 2 ** 20, busyMs: disk1.busyMs - disk0.busyMs },
          ]);
        await sleep(300); // the last timing lines
        cpus.set(m.key, [
          ...(cpus.get(m.key) ?? []),
          {
            qnb: r.stats.userS + r.stats.sysS,
            server: (await processCpuS(server.pid)) - serverCpu0,
            serverMain: (await processCpuS(server.pid, true)) - serverMain0,
          },
        ]);
        const out = JSON.parse(r.stdout) as { status: string; artifacts: { name: string; bytes: number }[] };
        if (r.code !== 0 || out.status !== 'ok' || out.artifacts.length !== n)
          throw new Error(
            `backup-qdrant of ${n} collections (${m.key} in flight): exit ${r.code}, ${r.stdout.slice(0, 500)}\n${r.stderr.slice(-1000)}`,
          );
        if (
          out.artifacts.map((a) => a.name).join() !==
          Array.from({ length: n }, (_, i) => `bulk-${i + 1}`).join()
        )
          throw new Error(`manifest order: ${out.artifacts.map((a) => a.name).join()}`);
        bytes = out.artifacts.reduce((sum, a) => sum + a.bytes, 0);
        walls.set(m.key, [...(walls.get(m.key) ?? []), r.stats.wallS * 1000]);
        const lines = server.timingsSince(since);
        const sum = (method: string, re: RegExp) =>
          lines.filter((l) => l.method === method && re.test(l.url)).reduce((a, l) => a + l.totalMs, 0);
        serverSums.set(m.key, [
          ...(serverSums.get(m.key) ?? []),
          {
            create: sum('POST', /^\/collections\/bulk-\d+\/snapshots/),
            download: sum('GET', /^\/collections\/bulk-\d+\/snapshots\/./),
          },
        ]);
        const timeline = overlapTimeline(lines, spawnMs, exitMs);
        timelines.set(m.key, [...(timelines.get(m.key) ?? []), timeline]);
        await writeFile(
          join(env.QNB_BENCH_TIMELINES ?? dir, `timeline-${m.key}-${rep}.json`),
          JSON.stringify({ spawnMs, exitMs, timeline, lines }, null, 1),
        );
        log(
          `overlap rep ${rep}: ${m.key} in flight ${fmtS(r.stats.wallS * 1000)} s, peak RSS ${fmtMb(r.stats.maxRssKb)} MB`,
        );
      }
    }
    const over = median(walls.get('2') ?? []);
    const seq = median(walls.get('1') ?? []);
    const ratio = over / seq;
    const pairs = (walls.get('2') ?? []).map((w, i) => w / (walls.get('1')?.[i] ?? Number.NaN));
    const md = [
      `## 5. backup-qdrant of ${n} collections of ${mb} MB — overlapped vs one after another`,
      '',
      `\`node dist/cli/main.js --json backup-qdrant -c bulk-1 … -c bulk-${n}\` against the Node test server (each collection holds ${mb} MB of ` +
        'data in a file written when it was filled; snapshot creation archives that file into a tar and hashes the archive, as Qdrant does; the download streams it back), wall time under GNU time, ' +
        `${walls.get('2')?.length ?? 0} runs each, alternating; load average before ${loadBefore}, after ${loadAvg()}. ${fmt(bytes / 2 ** 20, 0)} MB downloaded per run.`,
      '',
      table(
        [
          'mode',
          'median s',
          'runs (s)',
          'server: snapshot creation s (sum)',
          'server: download responses s (sum)',
        ],
        modes.map((m) => [
          m.label,
          fmtS(median(walls.get(m.key) ?? [])),
          listS(walls.get(m.key) ?? []),
          fmtS(median((serverSums.get(m.key) ?? []).map((x) => x.create))),
          fmtS(median((serverSums.get(m.key) ?? []).map((x) => x.download))),
        ]),
      ),
      '',
      "Where the wall time goes (medians; from the server's request start/end times and the client's spawn/exit): " +
        'start-up = spawn → first request; before 1st download = preflight + describe + snapshot creation of the first collection; ' +
        "gaps = between one download's last byte and the next one's request (fsync, commit, count, delete, waiting for a snapshot still being created); " +
        'tail = last response → exit; hidden = creation time that ran while a download was in flight; idle = no request of the run in progress on the server.',
      '',
      table(
        [
          'mode',
          'wall s',
          'start-up s',
          'before 1st download s',
          'downloads s',
          'gaps s',
          'tail s',
          'creation s (hidden)',
          'describe s',
          'delete s',
          'server idle s',
          'CPU s: qnb + server (its event loop)',
          '(qnb + server CPU) / 2 cores',
          'disk: MB written, busy s',
        ],
        modes.map((m) => {
          const tl = timelines.get(m.key) ?? [];
          const cpu = cpus.get(m.key) ?? [];
          const disk = disks.get(m.key) ?? [];
          const med = (f: (t: OverlapTimeline) => number) => fmtS(median(tl.map(f)));
          return [
            m.label.replace(/ \(.*/, ''),
            med((t) => t.wallMs),
            med((t) => t.startupMs),
            med((t) => t.beforeFirstDownloadMs),
            med((t) => t.downloadsMs),
            med((t) => t.gapsMs),
            med((t) => t.tailMs),
            `${med((t) => t.createMs)} (${med((t) => t.createHiddenMs)})`,
            med((t) => t.describeMs),
            med((t) => t.deleteMs),
            med((t) => t.serverIdleMs),
            `${fmtS(1000 * median(cpu.map((c) => c.qnb)))} + ${fmtS(1000 * median(cpu.map((c) => c.server)))} ` +
              `(${fmtS(1000 * median(cpu.map((c) => c.serverMain)))})`,
            fmtS((1000 * median(cpu.map((c) => c.qnb + c.server))) / os.cpus().length),
            disk.length
              ? `${fmt(median(disk.map((d) => d.mb)), 0)}, ${fmtS(median(disk.map((d) => d.busyMs)))}`
              : '–',
          ];
        }),
      ),
      '',
      overlapBound(timelines, cpus, disks, seq),
      '',
      `**overlapped / one after another = ${fmt(ratio, 2)}** (target ≤ 0.7): ${verdict(ratio <= 0.7)}. ` +
        `Per pair of runs next to each other: ${pairs.map((x) => fmt(x, 2)).join(', ')} (median ${fmt(median(pairs), 2)}).`,
    ].join('\n');
    return {
      md,
      verdicts: [
        [
          `backup-qdrant ${n} × ${mb} MB: overlapped / sequential`,
          fmt(ratio, 2),
          '≤ 0.7',
          verdict(ratio <= 0.7),
        ],
      ],
    };
  } finally {
    await server.stop();
  }
}

/** The CLIs to run end to end: qnb as built, plus bench-local patched copies (QNB_BENCH_CLI_PATCHES). */
async function cliVariants(dir: string): Promise<{ key: string; label: string; bin: string }[]> {
  const out = [{ key: 'qnb', label: 'qnb as built (dist/, copied at the start)', bin: QNB_BIN }];
  for (const name of CLI_PATCHES) {
    const made = await makePatchedCli(QNB_COPY, join(dir, `patched-${name}`), [name]);
    if ('error' in made) {
      log(`cli: skipping patch ${name}: ${made.error}`);
      continue;
    }
    out.push({
      key: `patch:${name}`,
      label: `patched copy \`${name}\`: ${PATCHES[name]?.describe ?? ''}`,
      bin: made.bin,
    });
  }
  return out;
}

async function cliBackupSection(server: BenchServer, dir: string): Promise<Section> {
  const reps = 3;
  const clis = await cliVariants(dir);
  const rows: string[][] = [];
  const walls = new Map<string, number[]>();
  let bytes = 0;
  const stats = join(dir, 'time-cli.txt');
  for (let rep = 1; rep <= reps; rep++) {
    if (rep > 1 && timeLeft() < reserveAfter('cli')) {
      log('cli: stopping early to stay inside the time budget');
      break;
    }
    const k = (rep - 1) % clis.length;
    for (const cli of [...clis.slice(k), ...clis.slice(0, k)]) {
      const backups = join(dir, 'backups-cli');
      await rm(backups, { recursive: true, force: true });
      const since = server.seen();
      const r = await runMeasured(
        NODE,
        [
          cli.bin,
          '--json',
          '--backup-dir',
          backups,
          '--qdrant-url',
          server.url,
          'backup-qdrant',
          '-c',
          COLLECTION,
        ],
        stats,
        { cwd: dir, env: qnbEnv(), timeoutMs: 300_000 },
      );
      if (r.code !== 0)
        throw new Error(`${cli.key} backup-qdrant exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
      const out = JSON.parse(r.stdout) as {
        status: string;
        artifacts: { bytes: number; durationMs: number }[];
      };
      const a = out.artifacts[0];
      if (out.status !== 'ok' || !a) throw new Error(`${cli.key} backup-qdrant: status ${out.status}`);
      bytes = a.bytes;
      const create = await server.timing('POST', `/collections/${COLLECTION}/snapshots`, since);
      const get = await server.timing('GET', `/collections/${COLLECTION}/snapshots/`, since);
      const wallMs = r.stats.wallS * 1000;
      walls.set(cli.key, [...(walls.get(cli.key) ?? []), wallMs]);
      rows.push([
        `${cli.key} #${rep}`,
        fmtS(wallMs),
        fmt(mbps(bytes, wallMs), 0),
        fmtS(create?.totalMs ?? Number.NaN),
        fmtS(get?.totalMs ?? Number.NaN),
        fmtS(wallMs - (create?.totalMs ?? 0) - (get?.totalMs ?? 0)),
        fmt(r.stats.userS + r.stats.sysS, 2),
        fmtMb(r.stats.maxRssKb),
      ]);
      log(
        `cli rep ${rep}: ${cli.key} backup-qdrant ${fmtS(wallMs)} s, peak RSS ${fmtMb(r.stats.maxRssKb)} MB`,
      );
      await rm(backups, { recursive: true, force: true });
    }
  }
  const md = [
    `## 1c. Full \`qnb backup-qdrant\` run, end to end — ${SPEED_MB} MB (for context)`,
    '',
    'One CLI process per run: preflight (version, collection info, aliases, exact count, sample), snapshot creation on the server, ' +
      'download with inline sha256, size + checksum check, fsync, manifest (pending → rename → ok), server snapshot deletion. ' +
      'Patched copies are dist/ copied into the temp folder with one string replacement (bench/lib/patched-cli.ts), run the same way, alternating.',
    '',
    table(
      ['CLI', 'median wall s'],
      clis.map((c) => [c.label, fmtS(median(walls.get(c.key) ?? []))]),
    ),
    '',
    table(
      [
        'run',
        'wall s (process)',
        'MB/s over the wall time',
        'server: create snapshot s',
        'server: download response s',
        'rest s (startup, preflight, fsync, commit…)',
        'CPU s (user+sys)',
        'peak RSS MB',
      ],
      rows,
    ),
    '',
    `Snapshot: ${bytes.toLocaleString('en-US')} bytes.`,
    '',
    '```sh',
    `/usr/bin/time -f '%e %U %S %M' node dist/cli/main.js --json --backup-dir "$DIR" --qdrant-url "$URL" backup-qdrant -c ${COLLECTION}`,
    '```',
  ].join('\n');
  return { md, verdicts: [] };
}

async function uploadSection(server: BenchServer, dir: string): Promise<Section> {
  const file = join(dir, 'upload-source.snapshot');
  if (!existsSync(file)) throw new Error('upload: no source file (the download section makes it)');
  const sha = await sha256File(file);
  const { size } = await stat(file);
  const stats = join(dir, 'time-up.txt');
  let n = 0;
  const dropCollection = async (c: string, snapshot?: string) => {
    if (snapshot)
      await http(
        'DELETE',
        `${server.url}/collections/${c}/snapshots/${encodeURIComponent(snapshot)}?wait=true`,
      );
    await http('DELETE', `${server.url}/collections/${c}`);
  };
  const curlOnce = async (rep: number): Promise<Sample> => {
    const c = `bench-up-curl-${++n}`;
    const since = server.seen();
    const target = `${server.url}/collections/${c}/snapshots/upload?priority=snapshot&wait=true`;
    const r = await runMeasured(
      'curl',
      ['-s', '-X', 'POST', '-F', `snapshot=@${file}`, '-w', '\n%{time_total} %{http_code}', target],
      stats,
      { timeoutMs: 300_000 },
    );
    const lines = r.stdout.trim().split('\n');
    const [t, code] = (lines.pop() ?? '').split(/\s+/);
    if (r.code !== 0 || code !== '200' || !lines.join('').includes('"result":true'))
      throw new Error(`curl upload failed: exit ${r.code}, HTTP ${code}: ${lines.join('\n')}`);
    const server_ = await server.timing('POST', `/collections/${c}/snapshots/upload`, since);
    await dropCollection(c, basename(file));
    return {
      rep,
      ms: Number(t) * 1000,
      bytes: size,
      clientCpuMs: (r.stats.userS + r.stats.sysS) * 1000,
      ...(server_ ? { server: server_ } : {}),
    };
  };
  const qnbOnce = async (rep: number, variant: string): Promise<Sample> => {
    const c = `bench-up-qnb-${++n}`;
    const since = server.seen();
    const r = await runOk(
      NODE,
      [...TSX, join(BENCH_DIR, 'qnb-upload.ts'), server.url, c, file, sha, variant],
      {
        cwd: REPO_DIR,
        timeoutMs: 300_000,
      },
    );
    const out = lastJsonLine<{
      ms: number;
      bytes: number;
      cpuMs: number;
      maxRssKb: number;
      rssBeforeKb: number;
    }>(r);
    const server_ = await server.timing('POST', `/collections/${c}/snapshots/upload`, since);
    await dropCollection(c);
    return {
      rep,
      ms: out.ms,
      bytes: out.bytes,
      clientCpuMs: out.cpuMs,
      ...(server_ ? { server: server_ } : {}),
      extra: { maxRssKb: out.maxRssKb, rssBeforeKb: out.rssBeforeKb },
    };
  };
  const contenders: Contender[] = [
    { key: 'curl', label: '(a) curl -F', samples: [], run: curlOnce },
    {
      key: 'qnb',
      label:
        '(b) qnb createReadStream → byteCounter → uploadSnapshot (exact code; the server checks checksum=)',
      samples: [],
      run: (rep) => qnbOnce(rep, 'exact'),
    },
    ...UP_VARIANTS.map((v) => ({
      key: `variant:${v}`,
      label: `bench-local variant \`${v}\` (see lib/upload-variants.ts)`,
      samples: [] as Sample[],
      run: (rep: number) => qnbOnce(rep, v),
    })),
  ];
  const reps = await alternate(contenders, REPS, reserveAfter('upload'), 'upload');
  const curl = contenders[0]!;
  const qnb = contenders[1]!;
  const cs = summarize(curl);
  const qs = summarize(qnb);
  const ratio = qs.mbps / cs.mbps;
  const paired = pairedRatio(qnb, curl);
  const rows = contenders.map((c) => {
    const s = summarize(c);
    return [
      c.label,
      fmt(s.mbps, 0),
      fmtS(s.ms),
      listS(c.samples.map((x) => x.ms)),
      fmt(s.mbps / cs.mbps, 2),
      fmt(pairedRatio(c, curl), 2),
      fmtS(s.clientCpuMs),
      fmtS(s.serverRecvMs),
      fmtS(s.serverMs - s.serverRecvMs),
      fmtS(s.serverCpuMs),
    ];
  });
  const serverShare = qs.serverCpuMs / (qs.serverCpuMs + qs.clientCpuMs);
  const md = [
    `## 2. Snapshot upload — ${SPEED_MB} MB snapshot (${size.toLocaleString('en-US')} bytes)`,
    '',
    `Each upload goes into a new collection, which is dropped afterwards (with the uploaded file). ${reps} repetitions, rotating order.` +
      (UP_VARIANTS.includes('nohash')
        ? ' Variant `nohash` is qnb’s uploadSnapshot fed by a plain createReadStream (no counting Transform); it still sends `checksum=`, which the server verifies.'
        : ''),
    '',
    table(
      [
        'contender',
        'median MB/s',
        'median s',
        'runs (s)',
        'ratio vs curl (medians)',
        'ratio vs curl (paired, median)',
        'client CPU s',
        'server: body received after s',
        'server: recovery s (after the body)',
        'server CPU s',
      ],
      rows,
    ),
    '',
    `**qnb/curl = ${fmt(ratio, 2)}** (paired per repetition: ${fmt(paired, 2)}) — target ≥ 0.95: ${verdict(ratio >= 0.95)}.`,
    '',
    `The server dominates: for qnb’s upload the test server burned ${fmtS(qs.serverCpuMs)} s of CPU (busboy multipart parsing, ` +
      `sha256 and spooling to a temp file while receiving, then reading the whole tar back for the recovery) against ` +
      `${fmtS(qs.clientCpuMs)} s in the client (${fmt(serverShare * 100, 0)} % server); the recovery alone, after the last byte arrived, ` +
      `took ${fmtS(qs.serverMs - qs.serverRecvMs)} s of the ${fmtS(qs.ms)} s. On this ${os.cpus().length}-core machine the server and the client share the cores.`,
    '',
    '```sh',
    `# (a) curl — time = curl's own %{time_total}`,
    `curl -s -X POST -F 'snapshot=@$FILE' -w '\\n%{time_total} %{http_code}' "$URL/collections/$NEW/snapshots/upload?priority=snapshot&wait=true"`,
    `# (b) qnb — time measured inside the process around uploadSnapshot() (adds &checksum=SHA256 like qnb)`,
    `node --import tsx bench/qnb-upload.ts "$URL" "$NEW" "$FILE" "$SHA256"`,
    '```',
  ].join('\n');
  return {
    md,
    verdicts: [
      [
        `upload ${SPEED_MB} MB: qnb/curl`,
        `${fmt(ratio, 2)} (${fmt(qs.mbps, 0)} vs ${fmt(cs.mbps, 0)} MB/s; paired ${fmt(paired, 2)})`,
        '≥ 0.95',
        verdict(ratio >= 0.95),
      ],
    ],
  };
}

async function memorySection(dir: string): Promise<Section> {
  const free = await freeBytes(dir);
  let memMb = MEM_MB_WANTED;
  let note = '';
  // the collection's data file, its snapshot, the backup and the restore's upload: 4 × the size, and room
  if (memMb >= 2048 && free < 10 * 2 ** 30) {
    memMb = 1024;
    note = `Only ${fmt(free / 2 ** 30, 1)} GB free on the temp file system (< 10 GB), so a 1 GB snapshot was used instead of 2 GB.`;
  }
  log(`memory: starting a server with a ${memMb} MB snapshot (free disk ${fmt(free / 2 ** 30, 1)} GB)`);
  const server = await startBenchServer({
    mb: memMb,
    dataDir: join(dir, 'server-mem'),
    maxSeconds: Math.ceil(timeLeft() / 1000) + 30,
    cwd: REPO_DIR,
  });
  const backups = join(dir, 'backups-mem');
  const stats = join(dir, 'time-mem.txt');
  const rows: string[][] = [];
  const backupRss: number[] = [];
  const restoreRss: number[] = [];
  const mallocRss: number[] = [];
  const clientCost: Record<string, number> = {};
  let rssSource = '';
  try {
    for (let rep = 1; rep <= MEM_REPS; rep++) {
      if (rep > 1 && timeLeft() < reserveAfter('memory') + 90_000) {
        log('memory: stopping early to stay inside the time budget');
        break;
      }
      await rm(backups, { recursive: true, force: true });
      const since = server.seen();
      const b = await runMeasured(
        NODE,
        [
          QNB_BIN,
          '--json',
          '--backup-dir',
          backups,
          '--qdrant-url',
          server.url,
          'backup-qdrant',
          '-c',
          COLLECTION,
        ],
        stats,
        { cwd: dir, env: qnbEnv(), timeoutMs: 400_000 },
      );
      if (b.code !== 0) throw new Error(`qnb backup-qdrant exited ${b.code}:\n${b.stdout}\n${b.stderr}`);
      const bout = JSON.parse(b.stdout) as { status: string; artifacts: { bytes: number }[] };
      const bytes = bout.artifacts[0]?.bytes ?? 0;
      rssSource = b.rssSource;
      backupRss.push(b.stats.maxRssKb);
      const get = await server.timing('GET', `/collections/${COLLECTION}/snapshots/`, since);
      rows.push([
        `backup-qdrant #${rep}`,
        bytes.toLocaleString('en-US'),
        fmtMb(b.stats.maxRssKb),
        fmtS(b.stats.wallS * 1000),
        fmt(b.stats.userS + b.stats.sysS, 1),
        `download ${fmtS(get?.totalMs ?? Number.NaN)} s`,
      ]);
      log(
        `memory rep ${rep}: backup peak RSS ${fmtMb(b.stats.maxRssKb)} MB, ${fmtS(b.stats.wallS * 1000)} s`,
      );

      const restoreOnce = async (as: string, label: string, extraEnv: Record<string, string>) => {
        const since2 = server.seen();
        const r = await runMeasured(
          NODE,
          [
            QNB_BIN,
            '--json',
            '--backup-dir',
            backups,
            '--qdrant-url',
            server.url,
            'restore-qdrant',
            '--latest',
            '-c',
            COLLECTION,
            '--as',
            as,
          ],
          stats,
          { cwd: dir, env: { ...qnbEnv(), ...extraEnv }, timeoutMs: 400_000 },
        );
        if (r.code !== 0) throw new Error(`qnb restore-qdrant exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
        const up = await server.timing('POST', `/collections/${as}/snapshots/upload`, since2);
        rows.push([
          `${label} #${rep}`,
          bytes.toLocaleString('en-US'),
          fmtMb(r.stats.maxRssKb),
          fmtS(r.stats.wallS * 1000),
          fmt(r.stats.userS + r.stats.sysS, 1),
          `upload: body ${fmtS(up?.recvMs ?? Number.NaN)} s + recovery ${fmtS((up?.totalMs ?? Number.NaN) - (up?.recvMs ?? Number.NaN))} s`,
        ]);
        log(
          `memory rep ${rep}: ${label} peak RSS ${fmtMb(r.stats.maxRssKb)} MB, ${fmtS(r.stats.wallS * 1000)} s`,
        );
        await http('DELETE', `${server.url}/collections/${as}`);
        return r.stats.maxRssKb;
      };
      restoreRss.push(await restoreOnce(`bench-restored-${rep}`, 'restore-qdrant --as NEW', {}));
      if (MALLOC_VARIANT && rep <= 2 && timeLeft() > reserveAfter('memory') + 60_000)
        mallocRss.push(
          await restoreOnce(
            `bench-restored-m${rep}`,
            `diagnosis: restore-qdrant with ${MALLOC_ENV_TEXT}`,
            MALLOC_ENV,
          ),
        );
    }
    // Baselines: what the CLI costs before it moves any byte.
    for (const [label, args] of [
      ['baseline: `qnb --version`', ['--version']],
      ['baseline: `qnb list` (1 backup)', ['--backup-dir', backups, 'list']],
    ] as const) {
      const rss: number[] = [];
      for (let i = 0; i < 3; i++) {
        const x = await runMeasured(NODE, [QNB_BIN, ...args], stats, { cwd: dir, env: qnbEnv() });
        rss.push(x.stats.maxRssKb);
      }
      rows.push([label, '–', fmtMb(median(rss)), '–', '–', 'median of 3']);
    }
    const nodeRss: number[] = [];
    for (let i = 0; i < 3; i++)
      nodeRss.push((await runMeasured(NODE, ['-e', '0'], stats, { env: qnbEnv() })).stats.maxRssKb);
    rows.push(['baseline: `node -e 0`', '–', fmtMb(median(nodeRss)), '–', '–', 'median of 3']);
    // The official client (JSON control calls) vs qnb's own undici path, before any snapshot byte moves.
    for (const mode of ['raw', 'official'] as const) {
      const rss: number[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await runOk(NODE, [join(BENCH_DIR, 'client-cost.mjs'), QNB_BIN, server.url, mode], {
          cwd: dir,
          env: qnbEnv(),
        });
        rss.push(lastJsonLine<{ maxRssKb: number }>(r).maxRssKb);
      }
      clientCost[mode] = median(rss);
      rows.push([
        mode === 'raw'
          ? 'baseline: qnb’s modules + version/exists/count through qnb’s own REST calls (node:http), as backup and restore do (`bench/client-cost.mjs raw`)'
          : 'baseline: qnb’s modules + version/exists/count through `@qdrant/js-client-rest`, as backup and restore did before (`client-cost.mjs official`)',
        '–',
        fmtMb(median(rss)),
        '–',
        '–',
        `median of 3 (${rss.map((x) => fmtMb(x)).join(', ')})`,
      ]);
    }
  } finally {
    await server.stop();
    await rm(backups, { recursive: true, force: true });
  }
  const bMax = Math.max(...backupRss);
  const rMax = Math.max(...restoreRss);
  const md = [
    `## 3. Memory — ${memMb} MB snapshot`,
    '',
    note,
    '',
    `Peak RSS from ${rssSource}; the CLI is \`node dist/cli/main.js\` (what \`qnb\` runs). ${backupRss.length} backup + restore pair(s); ` +
      'each backup starts from an empty backups folder, each restore uploads that backup into a new collection and verifies it.',
    '',
    table(['process', 'snapshot bytes', 'peak RSS MB', 'wall s', 'CPU s', 'server side'], rows),
    '',
    `Highest peak: backup ${fmtMb(bMax)} MB, restore ${fmtMb(rMax)} MB (medians ${fmtMb(median(backupRss))} / ${fmtMb(median(restoreRss))} MB) — target < 150 MB: backup ${verdict(bMax < 150 * 1024)}, restore ${verdict(rMax < 150 * 1024)}.`,
    '',
    clientCost.raw && clientCost.official
      ? `Loading and using the official client for the control calls would cost ${fmtMb(clientCost.official - clientCost.raw)} MB of RSS on top of qnb’s own modules and REST calls (${fmtMb(clientCost.raw)} → ${fmtMb(clientCost.official)} MB), before any snapshot byte moves; qnb no longer loads it.`
      : '',
    '',
    mallocRss.length
      ? `Diagnosis: the same restore with \`${MALLOC_ENV_TEXT}\` (glibc keeps a fixed 128 KiB mmap threshold, so freed 1 MiB buffers go back to the OS instead of staying in the heap) peaked at ${mallocRss.map((x) => fmtMb(x)).join(', ')} MB (median ${fmtMb(median(mallocRss))} MB) against ${fmtMb(median(restoreRss))} MB.`
      : '',
    '',
    '```sh',
    `/usr/bin/time -f '%e %U %S %M' node dist/cli/main.js --json --backup-dir "$DIR" --qdrant-url "$URL" backup-qdrant -c ${COLLECTION}`,
    `/usr/bin/time -f '%e %U %S %M' node dist/cli/main.js --json --backup-dir "$DIR" --qdrant-url "$URL" restore-qdrant --latest -c ${COLLECTION} --as bench-restored-N`,
    '```',
  ].join('\n');
  return {
    md,
    verdicts: [
      [
        `peak RSS, backup-qdrant ${memMb} MB`,
        `${fmtMb(bMax)} MB (max of ${backupRss.length})`,
        '< 150 MB',
        verdict(bMax < 150 * 1024),
      ],
      [
        `peak RSS, restore-qdrant --as ${memMb} MB`,
        `${fmtMb(rMax)} MB (max of ${restoreRss.length})`,
        '< 150 MB',
        verdict(rMax < 150 * 1024),
      ],
    ],
  };
}

async function listSection(dir: string): Promise<Section> {
  const stats = join(dir, 'time-list.txt');
  const rows: string[][] = [];
  const verdicts: string[][] = [];
  const layouts = [{ sets: 1000, perSet: 1 }];
  const stdoutFile = join(dir, 'stdout.txt');
  const timeIt = async (args: string[], check?: (r: RunResult) => void, allowFail = false) => {
    const walls: number[] = [];
    const rss: number[] = [];
    const codes = new Set<number | null>();
    const o = { cwd: dir, env: qnbEnv(), stdoutFile };
    await runMeasured(NODE, args, stats, o); // warm-up (disk cache)
    for (let i = 0; i < 5; i++) {
      const r = await runMeasured(NODE, args, stats, o);
      if (r.code !== 0 && !allowFail) throw new Error(`${args.join(' ')} exited ${r.code}: ${r.stderr}`);
      codes.add(r.code);
      check?.(r);
      walls.push(r.wallMs);
      rss.push(r.stats.maxRssKb);
    }
    return { walls, rss, codes: [...codes].join(', ') };
  };
  /** What arrives through a pipe (as when another program runs qnb) — checked once, not timed. */
  const pipeNotes: string[] = [];
  const throughPipe = async (args: string[], count: (stdout: string) => number, expected: number) => {
    const r = await runMeasured(NODE, args, stats, { cwd: dir, env: qnbEnv() });
    const n = count(r.stdout);
    if (n !== expected)
      pipeNotes.push(
        `⚠ \`qnb ${args.slice(1).join(' ').replace(dir, '$DIR')}\` read through a pipe (Node child_process) delivered ${r.stdout.length.toLocaleString('en-US')} bytes with ${n} of ${expected} backups; written to a file it is complete. ` +
          'qnb exits (process.exit in src/cli/main.ts) before a pipe has taken all of stdout.',
      );
  };
  const node0 = await timeIt(['-e', '0']);
  rows.push([
    '`node -e 0` (Node startup alone)',
    '–',
    fmtS(median(node0.walls)),
    listS(node0.walls),
    fmtMb(median(node0.rss)),
  ]);
  const version = await timeIt([QNB_BIN, '--version']);
  rows.push([
    '`qnb --version` (startup + loading qnb’s modules)',
    '–',
    fmtS(median(version.walls)),
    listS(version.walls),
    fmtMb(median(version.rss)),
  ]);
  // What module loading costs: the packages `list` needs, and those qnb loads eagerly on top.
  const listDeps = ['@commander-js/extra-typings', 'lilconfig'];
  const eagerExtra = ['undici', 'yaml', 'cli-progress'];
  const importTime = async (pkgs: string[]) => {
    const code = `const t=performance.now();for(const p of ${JSON.stringify(pkgs)})await import(p);console.log(performance.now()-t)`;
    const ms: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await runOk(NODE, ['--input-type=module', '-e', code], { cwd: QNB_COPY, env: qnbEnv() });
      ms.push(Number(r.stdout.trim()));
    }
    return ms;
  };
  const need = await importTime(listDeps);
  rows.push([
    `import ${listDeps.join(', ')} (what \`list\` needs), in-process time`,
    '–',
    fmtS(median(need)),
    listS(need),
    '–',
  ]);
  const eager = await importTime([...listDeps, ...eagerExtra]);
  rows.push([
    `… + ${eagerExtra.join(', ')} (for comparison: \`list\` does not load them)`,
    '–',
    fmtS(median(eager)),
    listS(eager),
    '–',
  ]);
  const mainImport = await importTime([QNB_BIN]);
  rows.push([
    'import of dist/cli/main.js (everything `qnb` loads before parsing arguments)',
    '–',
    fmtS(median(mainImport)),
    listS(mainImport),
    '–',
  ]);
  let jsonProblem = '';
  for (const layout of layouts) {
    const folder = join(dir, `backups-${layout.sets}x${layout.perSet}`);
    const t0 = Date.now();
    const made = await makeBackupsFolder(folder, { sets: layout.sets, perSet: layout.perSet });
    log(`list: wrote ${made.artifacts} artifacts in ${made.sets} sets in ${fmtS(Date.now() - t0)} s`);
    const label = `${made.artifacts.toLocaleString('en-US')} backups (${layout.sets} sets × ${layout.perSet})`;
    const countText = (out: string) => (out.match(/\.snapshot$/gm) ?? []).length;
    const countJson = (out: string) => {
      try {
        return (JSON.parse(out) as { backups: unknown[] }).backups.length;
      } catch {
        return -1;
      }
    };
    const text = await timeIt([QNB_BIN, '--backup-dir', folder, 'list'], (r) => {
      const n = countText(r.stdout);
      if (n !== made.artifacts) throw new Error(`qnb list showed ${n} of ${made.artifacts} backups`);
    });
    await throughPipe([QNB_BIN, '--backup-dir', folder, 'list'], countText, made.artifacts);
    await throughPipe([QNB_BIN, '--json', '--backup-dir', folder, 'list'], countJson, made.artifacts);
    rows.push([
      `\`qnb list\` — ${label}`,
      String(made.artifacts),
      fmtS(median(text.walls)),
      listS(text.walls),
      fmtMb(median(text.rss)),
    ]);
    const json = await timeIt([QNB_BIN, '--json', '--backup-dir', folder, 'list'], (r) => {
      const n = countJson(r.stdout);
      if (n !== made.artifacts)
        jsonProblem = `\`qnb --json list\` returned ${n} of ${made.artifacts} backups (-1: not complete JSON)`;
    });
    rows.push([
      `\`qnb --json list\` — ${label}`,
      String(made.artifacts),
      fmtS(median(json.walls)),
      listS(json.walls),
      fmtMb(median(json.rss)),
    ]);
    if (layout.perSet === 1)
      verdicts.push([
        `\`qnb list\`, ${label}`,
        `${fmtS(median(text.walls))} s (median of 5)`,
        '< 0.3 s',
        verdict(median(text.walls) < 300),
      ]);
    // `status`: measured as soon as it exists (its exit code may flag stale backups).
    const probe = await runMeasured(NODE, [QNB_BIN, '--backup-dir', folder, 'status'], stats, {
      cwd: dir,
      env: qnbEnv(),
    });
    if (!/unknown command/i.test(probe.stderr)) {
      const st = await timeIt([QNB_BIN, '--backup-dir', folder, 'status'], undefined, true);
      rows.push([
        `\`qnb status\` — ${label} (exit ${st.codes})`,
        String(made.artifacts),
        fmtS(median(st.walls)),
        listS(st.walls),
        fmtMb(median(st.rss)),
      ]);
      if (layout.perSet === 1)
        verdicts.push([
          `\`qnb status\`, ${label}`,
          `${fmtS(median(st.walls))} s`,
          '< 0.3 s',
          verdict(median(st.walls) < 300),
        ]);
    } else if (layout.perSet === 1) {
      rows.push(['`qnb status`', '–', 'not implemented yet', '–', '–']);
      verdicts.push(['`qnb status`', 'not implemented yet', '< 0.3 s', '–']);
    }
    await rm(folder, { recursive: true, force: true });
  }
  const md = [
    '## 4. `qnb list` and `qnb status` over 1,000 backups',
    '',
    'The backups folders are written with qnb’s own core (`createRepository`, `startSet`, `createSetSink`, `finishSet`): ' +
      'real artifact files of a few bytes, manifests like a Qdrant collection backup writes (config, aliases, 3-point sample). ' +
      'Wall time of the whole process as the bench measured it (spawn to exit), median of 5 after one warm-up run; stdout goes to a file.',
    '',
    table(['command', 'backups', 'median s', 'runs (s)', 'peak RSS MB'], rows),
    '',
    jsonProblem ? `⚠ ${jsonProblem}.` : '',
    ...pipeNotes.map((n) => `${n}\n`),
    '```sh',
    'node dist/cli/main.js --backup-dir "$DIR" list',
    'node dist/cli/main.js --json --backup-dir "$DIR" list',
    'node dist/cli/main.js --backup-dir "$DIR" status',
    '```',
  ].join('\n');
  return { md, verdicts };
}

/** Time to keep for the sections after `section` (rough, from the sizes). */
function reserveAfter(section: string): number {
  const order = ['download', 'static', 'cli', 'upload', 'overlap', 'memory', 'list'].filter((s) =>
    SECTIONS.has(s),
  );
  const rest = order.slice(order.indexOf(section) + 1);
  const speed = SPEED_MB / 512;
  const est: Record<string, number> = {
    download: 0,
    static: REPS * 8 * speed * 3_000 + 10_000,
    overlap: (QUICK ? 25_000 : 70_000) + 10_000,
    cli: 3 * (1 + CLI_PATCHES.length) * speed * 8_000,
    upload: REPS * (2 + UP_VARIANTS.length) * speed * 4_500 + 10_000,
    memory: MEM_REPS * (MEM_MB_WANTED / 1024) * 26_000 + 2 * (MEM_MB_WANTED / 1024) * 13_000 + 15_000,
    list: 45_000,
  };
  return rest.reduce((sum, s) => sum + (est[s] ?? 0), 0);
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (!existsSync(BUILT_BIN))
    throw new Error(`${BUILT_BIN} is missing: run \`npm run build\` (npm run bench does)`);
  if (!hasGnuTime())
    log(
      'no /usr/bin/time: peak RSS is polled from /proc/PID/status (apt-get install -y time for exact numbers)',
    );
  const facts = machineFacts();
  root = await mkdtemp(join(os.tmpdir(), 'qnb-bench-'));
  log(`temp folder ${root}; load average ${facts.loadAvg}`);
  const copy = await makePatchedCli(REPO_DIR, join(root, 'qnb'), []);
  if ('error' in copy) throw new Error(copy.error);
  QNB_BIN = copy.bin;
  QNB_COPY = join(root, 'qnb');
  const sections: Section[] = [];
  /** Runs one section; a failure is written into RESULTS.md and the other sections still run. */
  const section = async (title: string, fn: () => Promise<Section>) => {
    try {
      sections.push(await fn());
    } catch (err) {
      process.exitCode = 1;
      const msg = (err as Error).stack ?? String(err);
      log(`${title} failed: ${msg}`);
      sections.push({
        md: `## ${title} — FAILED\n\n\`\`\`\n${msg.slice(0, 3000)}\n\`\`\``,
        verdicts: [[title, 'failed (see below)', '–', '❌']],
      });
    }
  };
  const loads: string[] = [`start: ${facts.loadAvg}`];

  if (['download', 'static', 'tls', 'cli', 'upload'].some((k) => SECTIONS.has(k))) {
    const dir = join(root, 'speed');
    await mkdir(dir, { recursive: true });
    log(`speed: starting the Qdrant test server with a ${SPEED_MB} MB snapshot`);
    const server = await startBenchServer({
      mb: SPEED_MB,
      dataDir: join(dir, 'server'),
      maxSeconds: Math.ceil(BUDGET_MS / 1000) + 30,
      cwd: REPO_DIR,
    });
    try {
      const snap = await createSnapshot(server);
      log(`speed: snapshot ${snap.name}, ${snap.size} bytes, created in ${fmtS(snap.serverMs)} s`);
      if (SECTIONS.has('download')) {
        await section('1. Snapshot download', () => downloadSection(server, snap, dir));
        loads.push(`after download: ${loadAvg()}`);
      } else if (SECTIONS.has('upload') || SECTIONS.has('static') || SECTIONS.has('tls')) {
        // the upload and nginx sections need a copy of the snapshot (the download section leaves one)
        const src = join(dir, 'upload-source.snapshot');
        await runOk('curl', [
          '-s',
          '-o',
          src,
          `${server.url}/collections/${COLLECTION}/snapshots/${encodeURIComponent(snap.name)}`,
        ]);
      }
      if (SECTIONS.has('static')) {
        const source = join(dir, 'upload-source.snapshot');
        await section('1b. Snapshot download from nginx', () => staticDownloadSection(snap, dir, source));
        loads.push(`after nginx download: ${loadAvg()}`);
      }
      if (SECTIONS.has('tls')) {
        const source = join(dir, 'upload-source.snapshot');
        await section('1d. Snapshot download over https', () => tlsDownloadSection(snap, dir, source));
        loads.push(`after https download: ${loadAvg()}`);
      }
      if (SECTIONS.has('cli')) {
        await section('1c. CLI backup', () => cliBackupSection(server, dir));
        loads.push(`after CLI backup: ${loadAvg()}`);
      }
      if (SECTIONS.has('upload')) {
        await section('2. Snapshot upload', () => uploadSection(server, dir));
        loads.push(`after upload: ${loadAvg()}`);
      }
    } finally {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  if (SECTIONS.has('overlap')) {
    const dir = join(root, 'overlap');
    await mkdir(dir, { recursive: true });
    await section('5. Several collections', () => overlapSection(dir));
    loads.push(`after several collections: ${loadAvg()}`);
    await rm(dir, { recursive: true, force: true });
  }
  if (SECTIONS.has('memory')) {
    const dir = join(root, 'memory');
    await mkdir(dir, { recursive: true });
    await section('3. Memory', () => memorySection(dir));
    loads.push(`after memory: ${loadAvg()}`);
    await rm(dir, { recursive: true, force: true });
  }
  if (SECTIONS.has('list')) {
    const dir = join(root, 'list');
    await mkdir(dir, { recursive: true });
    await section('4. list / status', () => listSection(dir));
    loads.push(`after list: ${loadAvg()}`);
  }

  const totalS = (Date.now() - started) / 1000;
  const md = [
    '# qnb benchmark results',
    '',
    `Written by \`npm run bench\`${QUICK ? ' --quick' : ''} (bench/run.ts) on ${facts.date}; the whole run took ${fmt(totalS, 0)} s. ` +
      'How to run it and what each number means: [README.md](README.md). 1 MB = 2^20 bytes.',
    '',
    '## Machine',
    '',
    table(
      ['', ''],
      [
        ['date', facts.date],
        ['CPU', facts.cpuModel],
        ['cores', String(facts.cores)],
        ['memory', `${facts.memGiB} GiB`],
        ['Node.js', facts.node],
        ['OS', facts.os],
        ['curl', facts.curl],
        ['load average (1/5/15 min)', loads.join('; ')],
        [
          'settings',
          `speed ${SPEED_MB} MB × ${REPS} reps, memory ${MEM_MB_WANTED} MB × ${MEM_REPS}, budget ${BUDGET_MS / 1000} s`,
        ],
      ],
    ),
    '',
    'Server and clients run on the same machine over 127.0.0.1; the Qdrant server is the Node test server of ' +
      '`test/servers/qdrant/` in its own process (`bench/qdrant-server.ts`), so it competes with the client for the same cores.',
    '',
    '## Summary',
    '',
    table(
      ['measurement', 'result', 'target', 'verdict'],
      sections.flatMap((s) => s.verdicts),
    ),
    '',
    ...sections.map((s) => `${s.md}\n`),
  ].join('\n');
  // Other bench scripts (e.g. bench/s3-copy.ts) keep their own sections in the same file between
  // `<!-- NAME:begin -->` and `<!-- NAME:end -->` markers: carry those over unchanged.
  const previous = await readFile(OUT_FILE, 'utf8').catch(() => '');
  const kept = [...previous.matchAll(/<!-- ([\w-]+):begin -->[\s\S]*?<!-- \1:end -->/g)]
    .filter((m) => m[1] !== 'qnb-bench')
    .map((m) => m[0]);
  await writeFile(
    OUT_FILE,
    [
      '<!-- qnb-bench:begin -->',
      md.trimEnd(),
      '<!-- qnb-bench:end -->',
      '',
      ...kept.map((k) => `${k}\n`),
    ].join('\n'),
  );
  log(`wrote ${OUT_FILE} (${fmt(totalS, 0)} s)`);
}

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  clearTimeout(hardStop);
}
