/**
 * Bench: qnb's S3 transfers of one large artifact beside command-line clients doing the same to the
 * same real S3 server (versitygw on loopback), in one run, side by side:
 *   - upload: `qnb copy` vs `rclone copyto` (and one unsigned `curl` PUT, the wire's ceiling);
 *   - restore download: qnb's fetch (the code `qnb restore --from` runs) vs `rclone copyto` back;
 *   - encryption: qnb's encryptFile vs the `age` CLI encrypting the same file, and the whole
 *     encrypted `qnb copy`.
 * Each row: wall time and peak RSS (GNU time), the client's CPU (user + sys) and the server's CPU
 * (from /proc), so the table says what limits each figure.
 *
 *   npm run build && node --import tsx bench/s3-copy.ts [--gb 2] [--runs 1] [--steps upload,download,encrypt]
 *       [--out FILE.json] [--results bench/RESULTS.md]
 *
 * `--steps` runs only some groups of rows (default: all three); a download without the upload
 * step still makes the copies it reads back, unmeasured.
 *
 * rclone runs twice on upload: at its defaults, and with `--expect-continue-timeout 0`. rclone (Go's
 * net/http) sends `Expect: 100-Continue` with every part and waits up to 1 s for the interim
 * `100 Continue`; versitygw answers only the lower-case `100-continue` that curl sends, so every
 * part of rclone's waits the full second (bench/FINDINGS.md). The ratio is taken against the best
 * rclone row.
 *
 * `--steps encrypt` is the encryption rows alone (encryptFile, the age CLI, the first pass of an
 * encrypted copy, and the encrypted copy beside the same copy plain); see encryptionRows for how
 * they are kept fair to each other.
 *
 * Prints a Markdown table and, with --results, writes it into that file between the markers
 * `<!-- s3-copy:begin -->` and `<!-- s3-copy:end -->` (appended when they are missing), so
 * other sections of the file stay as they are. Every process it starts is stopped by PID; the
 * server listens on 127.0.0.1 only; rclone gets its remote from environment variables and an empty
 * config file; temp files are removed.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { ArtifactRecord } from '../src/core/manifest.js';
import { createRepository } from '../src/core/repository.js';
import { createSetSink, finishSet, startSet } from '../src/core/set-lifecycle.js';
import { startS3TestServer } from '../test/servers/s3/s3-server.js';
import { bigStream } from '../test/suites/copy-backend-suite.js';
import { arg } from './lib/args.js';
import { procCpuMs } from './lib/proc.js';
import { loadAverage, writeSection } from './lib/results-section.js';
import { median } from './lib/stats.js';

const QNB = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const STEPS_SCRIPT = fileURLToPath(new URL('./lib/s3-steps.mjs', import.meta.url));
const GB = Number(arg('gb', '2'));
const RUNS = Number(arg('runs', '1'));
const OUT = arg('out', '');
const RESULTS = arg('results', '');
const SIZE = Math.round(GB * 1024 ** 3);
const STEPS = new Set(arg('steps', 'upload,download,encrypt').split(','));
const STEP_NAMES = ['upload', 'download', 'encrypt'];
for (const s of STEPS)
  if (!STEP_NAMES.includes(s)) throw new Error(`--steps: "${s}" is not one of ${STEP_NAMES.join(', ')}`);

interface Measured {
  tool: string;
  wallS: number;
  maxRssMb: number;
  /** Client CPU seconds (user + sys). */
  cpuS: number;
  /** Server CPU seconds during the run. */
  serverCpuS: number;
  code: number | null;
  /** A `threads: …` line the step printed (per-thread CPU), if any. */
  threads?: string;
}

/** CPU seconds (user + sys) a process has used so far. */
const cpuOf = async (pid: number): Promise<number> => (await procCpuMs(pid)) / 1000;

/** Runs a command under GNU time; returns wall time, peak RSS and CPU, and the server's CPU. */
async function measured(
  tool: string,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
  serverPids: number[],
): Promise<Measured> {
  const stats = join(cwd, `.time-${tool.replace(/\W+/g, '-')}`);
  const server0 = (await Promise.all(serverPids.map(cpuOf))).reduce((a, b) => a + b, 0);
  const child = spawn('/usr/bin/time', ['-f', '%e %M %U %S', '-o', stats, cmd, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), 30 * 60_000);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearTimeout(timer);
  const server1 = (await Promise.all(serverPids.map(cpuOf))).reduce((a, b) => a + b, 0);
  const [wall, rss, user, sys] = (await readFile(stats, 'utf8'))
    .trim()
    .split('\n')
    .pop()!
    .split(/\s+/)
    .map(Number);
  if (code !== 0) process.stderr.write(`${tool} exited ${code}: ${err.slice(-2000)}\n`);
  const threads = /^threads: (.*)$/m.exec(err)?.[1];
  process.stderr.write(`${tool}: ${wall} s\n`);
  return {
    tool,
    wallS: wall ?? Number.NaN,
    maxRssMb: (rss ?? Number.NaN) / 1024,
    cpuS: (user ?? 0) + (sys ?? 0),
    serverCpuS: server1 - server0,
    code,
    ...(threads ? { threads } : {}),
  };
}

/** What the encryption rows need from main(). */
interface EncryptionBench {
  run1: (tool: string, cmd: string, args: string[], e?: NodeJS.ProcessEnv) => Promise<Measured>;
  file: string;
  recipient: string;
  sha256: string;
  env: NodeJS.ProcessEnv;
  /** The bench's scratch folder (same disk as the backup). */
  work: string;
  /** Deletes every object of the bench bucket (the server's page cache is freed, see below). */
  emptyBucket: () => Promise<void>;
  /** The identity's key file (0600, in `work`): the encrypted restore rows decrypt with it. */
  identityFile: string;
  /** Where the backup lies in the backups folder (the copy's key, before `.age`). */
  rel: string;
  /** rclone's environment (the `bench:` remote), when rclone is installed. */
  rclone?: NodeJS.ProcessEnv;
}

/** Flushes the page cache (`sync`, not timed): no row pays for the dirty pages of the one before. */
const settle = () => new Promise((r) => spawn('sync', [], { stdio: 'ignore' }).on('close', r));

/**
 * The encryption rows of one run. This VM pays ~2.3 s of kernel time per GiB the first time a
 * memory page is touched (bench/FINDINGS.md), page-cache pages of a new file included, and a
 * process writing right after another one's dirty gigabytes pays for their writeback. So before
 * each row the page cache is flushed (`sync`, not timed); before the first encryption row an
 * untimed `age` run writes and deletes the same amount (neither timed row gets the never-touched
 * pages); qnb and the CLI alternate between runs; the two copy rows (plain and encrypted, also
 * alternating) start from an empty bucket, so the server writes into pages freed by earlier rows.
 */
async function encryptionRows(run: number, b: EncryptionBench): Promise<void> {
  const encOut = join(b.work, `enc-${run}.age`);
  const hasAge = existsSync('/usr/bin/age');
  const step = (dest: string) => [STEPS_SCRIPT, 'encrypt', b.file, dest, b.recipient, String(SIZE), b.sha256];
  if (hasAge) {
    await new Promise((r) => spawn('/usr/bin/age', ['-r', b.recipient, '-o', encOut, b.file]).on('close', r));
    await rm(encOut, { force: true });
  }
  const encryptions = [
    () => b.run1('encrypt: qnb encryptFile', process.execPath, step(encOut)),
    async () => {
      if (hasAge)
        await b.run1('encrypt: age -r (CLI)', '/usr/bin/age', ['-r', b.recipient, '-o', encOut, b.file]);
    },
  ];
  if (run % 2 === 0) encryptions.reverse();
  for (const encrypt of encryptions) {
    await settle();
    await encrypt();
    await rm(encOut, { force: true });
  }
  await settle();
  await b.run1('encrypt: qnb first pass of an encrypted copy (nothing written)', process.execPath, step('-'));
  const copies = [
    async () => {
      await b.run1(
        'encrypted copy: qnb copy with QNB_AGE_RECIPIENTS',
        process.execPath,
        [QNB, 'copy', '--to', `s3://bench/qnb-age-${run}`],
        { ...b.env, QNB_AGE_RECIPIENTS: b.recipient },
      );
      await encryptedRestoreRows(run, b);
    },
    () =>
      b.run1('encrypted copy: the same copy, plain (beside it)', process.execPath, [
        QNB,
        'copy',
        '--to',
        `s3://bench/qnb-plain-${run}`,
      ]),
  ];
  if (run % 2 === 0) copies.reverse();
  for (const copy of copies) {
    await b.emptyBucket();
    await settle();
    await copy();
  }
}

/**
 * The restore of the encrypted copy just made: qnb's fetch (what `qnb restore --from` runs: the
 * identity opens the header, the payload is decrypted as it arrives, both sides hashed, fsync)
 * beside `rclone cat | age -d | tee FILE | sha256sum` + `sync FILE` (the age CLI checks every
 * chunk's tag as qnb does; the sha256 of the plain bytes and the fsync are qnb's other guarantees).
 * Alternating order between runs; before each, SIZE bytes written and removed (untimed), then `sync`.
 */
async function encryptedRestoreRows(run: number, b: EncryptionBench): Promise<void> {
  const back = join(b.work, `restore-age-${run}`);
  const out = join(b.work, `age-back-${run}`);
  const rows = [
    async () => {
      await b.run1(
        'encrypted restore: qnb restore fetch, decrypted',
        process.execPath,
        [STEPS_SCRIPT, 'fetch', back, `s3://bench/qnb-age-${run}`],
        { ...b.env, QNB_AGE_IDENTITY_FILE: b.identityFile },
      );
      await rm(back, { recursive: true, force: true });
    },
    async () => {
      if (!b.rclone || !existsSync('/usr/bin/age')) return;
      await b.run1(
        'encrypted restore: rclone cat | age -d | tee FILE | sha256sum; sync FILE',
        'bash',
        [
          '-c',
          'set -o pipefail; rclone cat "$1" | age -d -i "$2" | tee "$3" | sha256sum && sync "$3"',
          'bash',
          `bench:bench/qnb-age-${run}/${b.rel}.age`,
          b.identityFile,
          out,
        ],
        b.rclone,
      );
      await rm(out, { force: true });
    },
  ];
  if (run % 2 === 0) rows.reverse();
  for (const row of rows) {
    // each row writes SIZE bytes into pages freed just before (see the download rows)
    await warmPages(join(b.work, 'warm'), SIZE);
    await settle();
    await row();
  }
}

/** Writes `size` bytes to `path` and removes it, untimed: pages for the next row to reuse. */
async function warmPages(path: string, size: number): Promise<void> {
  const chunk = Buffer.alloc(8 << 20, 1);
  const fh = await open(path, 'w');
  try {
    for (let done = 0; done < size; done += chunk.length)
      await fh.write(chunk, 0, Math.min(chunk.length, size - done));
  } finally {
    await fh.close();
  }
  await rm(path, { force: true });
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'qnb-bench-s3-'));
  const load0 = await loadAverage();
  const server = await startS3TestServer();
  try {
    await server.createBucket('bench');
    // one backup set with one artifact of SIZE bytes, written through the repository code
    const repo = createRepository(join(work, 'backups'));
    await repo.init();
    const now = new Date();
    const set = await startSet(repo, 'bench', now);
    const sink = createSetSink(repo, set, () => now);
    const r = await sink.reserve('qdrant', 'big-backup', '.snapshot');
    const data = bigStream(SIZE, 42);
    await pipeline(data.make(), createWriteStream(r.tempPath));
    const rec: ArtifactRecord = {
      target: 'qdrant',
      kind: 'qdrant-collection',
      name: 'big',
      file: r.rel,
      status: 'pending',
      bytes: SIZE,
      sha256: data.sha256,
      serverChecksum: null,
      checksumSource: 'self',
      serverVersion: '1.19.0',
      counts: { points: 1 },
      startedAt: now.toISOString(),
      finishedAt: now.toISOString(),
      durationMs: 0,
    };
    await sink.commit(rec, r.tempPath);
    await finishSet(repo, set, now);
    const file = repo.resolve(r.rel);
    const tuning = Object.fromEntries(
      ['QNB_S3_PART_SIZE_MB', 'QNB_S3_CONCURRENCY'].flatMap((k) =>
        process.env[k] ? [[k, process.env[k]!]] : [],
      ),
    );
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...server.env(), ...tuning };
    // rclone: the remote from environment variables, an empty config file (nothing of the user's)
    const rcloneConf = join(work, 'rclone.conf');
    await writeFile(rcloneConf, '', { mode: 0o600 });
    const rcloneEnv = {
      ...env,
      RCLONE_CONFIG: rcloneConf,
      RCLONE_CONFIG_BENCH_TYPE: 's3',
      RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
      RCLONE_CONFIG_BENCH_ENDPOINT: server.endpoint,
      RCLONE_CONFIG_BENCH_REGION: 'us-east-1',
      RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
      RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: server.accessKey,
      RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: server.secretKey,
    };
    const hasRclone = existsSync('/usr/bin/rclone');
    const { generateIdentity, identityToRecipient } = await import('age-encryption');
    const identity = await generateIdentity();
    const recipient = await identityToRecipient(identity);
    const identityFile = join(work, 'bench-age.key');
    await writeFile(identityFile, `${identity}\n`, { mode: 0o600 });
    const results: Measured[] = [];
    const pids = server.pids;
    const curlAuth = [
      '-sS',
      '-f',
      '--aws-sigv4',
      'aws:amz:us-east-1:s3',
      '--user',
      `${server.accessKey}:${server.secretKey}`,
    ];
    const run1 = (tool: string, cmd: string, args: string[], e: NodeJS.ProcessEnv = env) =>
      measured(tool, cmd, args, e, work, pids).then((m) => {
        results.push(m);
        return m;
      });
    /** A row of a step not asked for still runs when a later step needs what it makes. */
    const setup = (tool: string, cmd: string, args: string[], e: NodeJS.ProcessEnv = env) =>
      measured(tool, cmd, args, e, work, pids);
    const emptyBucket = async () => {
      const sdk = await import('@aws-sdk/client-s3');
      const c = await server.client();
      try {
        for (;;) {
          const l = await c.send(new sdk.ListObjectsV2Command({ Bucket: 'bench' }));
          const keys = (l.Contents ?? []).map((o) => ({ Key: o.Key! }));
          if (!keys.length) break;
          await c.send(new sdk.DeleteObjectsCommand({ Bucket: 'bench', Delete: { Objects: keys } }));
        }
      } finally {
        c.destroy();
      }
    };
    const rcloneTuned = ['--expect-continue-timeout', '0'];
    for (let run = 1; run <= RUNS; run++) {
      const up = STEPS.has('upload') ? run1 : STEPS.has('download') ? setup : undefined;
      // upload
      await up?.('upload: qnb copy', process.execPath, [QNB, 'copy', '--to', `s3://bench/qnb-${run}`]);
      if (hasRclone && STEPS.has('upload'))
        await run1(
          'upload: rclone copyto (defaults)',
          '/usr/bin/rclone',
          ['copyto', file, `bench:bench/rclone-defaults-${run}/big.snapshot`],
          rcloneEnv,
        );
      if (hasRclone)
        await up?.(
          `upload: rclone copyto ${rcloneTuned.join(' ')}`,
          '/usr/bin/rclone',
          ['copyto', ...rcloneTuned, file, `bench:bench/rclone-${run}/big.snapshot`],
          rcloneEnv,
        );
      if (STEPS.has('upload'))
        await run1('upload: curl PUT (one unsigned request)', 'curl', [
          ...curlAuth,
          '-o',
          '/dev/null',
          '-H',
          'x-amz-content-sha256: UNSIGNED-PAYLOAD',
          '-T',
          file,
          `${server.endpoint}/bench/curl-${run}/big`,
        ]);
      // before each timed row the page cache is flushed (`sync`, not timed): no row pays for the
      // dirty pages of the uploads or of the row before it
      if (STEPS.has('download')) {
        // restore download: qnb's fetch of the copy it made vs rclone back to a file
        const back = join(work, `restore-${run}`);
        // every row writes SIZE bytes into pages the row before it freed; the first one gets the
        // same from an untimed write of SIZE bytes, removed (on this VM a page the guest touches
        // for the first time costs ~2.3 s of kernel time per GiB, bench/FINDINGS.md)
        await warmPages(join(work, 'warm'), SIZE);
        await settle();
        await run1('download: qnb restore fetch', process.execPath, [
          STEPS_SCRIPT,
          'fetch',
          back,
          `s3://bench/qnb-${run}`,
        ]);
        await rm(back, { recursive: true, force: true });
        if (hasRclone) {
          await settle();
          await run1(
            'download: rclone copyto',
            '/usr/bin/rclone',
            ['copyto', `bench:bench/rclone-${run}/big.snapshot`, join(work, `rclone-back-${run}`)],
            rcloneEnv,
          );
          await rm(join(work, `rclone-back-${run}`), { force: true });
          await settle();
          // the same guarantee as qnb's (the file on disk, not only in the page cache, before "done")
          const synced = join(work, `rclone-sync-${run}`);
          await run1(
            'download: rclone copyto + sync FILE',
            'sh',
            [
              '-c',
              'rclone copyto "$1" "$2" && sync "$2"',
              'sh',
              `bench:bench/rclone-${run}/big.snapshot`,
              synced,
            ],
            rcloneEnv,
          );
          await rm(synced, { force: true });
        }
        // one request, no hash: what the server, the wire and the disk allow together
        const curlOut = join(work, `curl-back-${run}`);
        await settle();
        await run1('download: curl GET -o FILE + sync FILE (one request)', 'sh', [
          '-c',
          'curl "$@" && sync "$0"',
          curlOut,
          ...curlAuth,
          '-H',
          'x-amz-content-sha256: UNSIGNED-PAYLOAD',
          '-o',
          curlOut,
          `${server.endpoint}/bench/rclone-${run}/big.snapshot`,
        ]);
        await rm(curlOut, { force: true });
      }
      if (!STEPS.has('encrypt')) continue;
      await encryptionRows(run, {
        run1,
        file,
        recipient,
        sha256: data.sha256,
        env,
        work,
        emptyBucket,
        identityFile,
        rel: r.rel,
        ...(hasRclone ? { rclone: rcloneEnv } : {}),
      });
    }
    const mb = SIZE / 1024 ** 2;
    /** Median wall time of the rows whose tool starts with `prefix` (successful runs). */
    const wall = (prefix: string) =>
      median(results.filter((r) => r.tool.startsWith(prefix) && r.code === 0).map((r) => r.wallS));
    /** Fastest successful row whose tool starts with `prefix` (rclone: defaults and tuned). */
    const best = (prefix: string) =>
      Math.min(...results.filter((r) => r.tool.startsWith(prefix) && r.code === 0).map((r) => r.wallS));
    /** Throughput of `a` (median) over `b` (its fastest row, or its median). */
    const ratio = (a: string, b: string, against: 'best' | 'median' = 'best') => {
      const r = (against === 'best' ? best(b) : wall(b)) / wall(a);
      return Number.isFinite(r) ? r.toFixed(2) : 'n/a';
    };
    const lines = [
      `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}; server: versitygw (posix backend) on 127.0.0.1, same disk.`,
      `File: ${(SIZE / 1024 ** 3).toFixed(2)} GiB (${mb.toFixed(0)} MiB); ${RUNS} run(s) each; qnb ${process.env.QNB_S3_PART_SIZE_MB ?? 8} MiB parts, ${Math.max(Number(process.env.QNB_S3_PART_SIZE_MB ?? 8), 32)} MiB ranges, ${process.env.QNB_S3_CONCURRENCY ?? 3} in flight; rclone ${hasRclone ? `defaults, and with ${rcloneTuned.join(' ')}` : 'not installed'}.`,
      '',
      '| step: client | wall s | MB/s | client CPU s | server CPU s | peak RSS MB | exit |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...results.map(
        (m) =>
          `| ${m.tool} | ${m.wallS.toFixed(1)} | ${(mb / m.wallS).toFixed(0)} | ${m.cpuS.toFixed(1)} | ${m.serverCpuS.toFixed(1)} | ${m.maxRssMb.toFixed(0)} | ${m.code} |`,
      ),
      '',
      ...results.flatMap((m) => (m.threads ? [`- ${m.tool}, CPU per thread: ${m.threads}`] : [])),
      '',
      `qnb / rclone throughput (against rclone's fastest row): upload ${ratio('upload: qnb', 'upload: rclone')}×, restore download ${ratio('download: qnb', 'download: rclone copyto')}× (${ratio('download: qnb', 'download: rclone copyto + sync')}× against rclone + sync); qnb encryptFile / age CLI (medians): ${ratio('encrypt: qnb encryptFile', 'encrypt: age', 'median')}×, an encrypted copy's first pass / age CLI: ${ratio('encrypt: qnb first pass', 'encrypt: age', 'median')}×, encrypted copy / the same copy plain: ${ratio('encrypted copy: qnb', 'encrypted copy: the same', 'median')}×; encrypted restore: qnb / the rclone + age pipeline ${ratio('encrypted restore: qnb', 'encrypted restore: rclone', 'median')}×, qnb's encrypted / plain restore ${ratio('encrypted restore: qnb', 'download: qnb', 'median')}×.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (RESULTS) {
      const cmd = `npm run build && node --import tsx bench/s3-copy.ts --gb ${GB} --runs ${RUNS} --results ${RESULTS}`;
      const section = [
        '## S3 copy, restore download and encryption beside rclone and the age CLI',
        '',
        `Measured ${new Date().toISOString()} with \`${cmd}\` (load average before ${load0}, after ${await loadAverage()}).`,
        '',
        ...lines,
        '',
        "Client CPU is user + sys of the measured process (GNU time); server CPU is versitygw's over the",
        'same interval (/proc). When client CPU + server CPU is close to 2 × wall, the two cores are the',
        'limit; when both are well under, the disk (or waiting) is. qnb upload: reads the file once,',
        'sha256 of the whole file plus sha256 of each part (its signed payload hash, checked by the',
        'server), 3 parts in flight, then a HEAD. qnb download: SigV4-signed ranged GETs over raw',
        'sockets (If-Match the first ETag, 32 MiB ranges), 3 requests open, the range in its turn read',
        'into a shared 16 MiB ring and written from there, the others left unread in their sockets;',
        'sha256 on a worker thread, background fdatasync, size + sha256 checked against the manifest,',
        'fsync, manifest. Before each download row the page cache is flushed (`sync`, not timed); before',
        'the first, SIZE bytes are written and removed, so each row writes into pages freed just before.',
        'rclone: MD5 of the file for its metadata (checked again on download), no fsync on download',
        '(the `+ sync FILE` row adds the fsync qnb does, as coreutils `sync FILE`). At its defaults',
        'rclone waits 1 s per part: Go sends `Expect: 100-Continue`, which versitygw does not answer',
        '(it answers only the lower-case `100-continue`); `--expect-continue-timeout 0` sends at once.',
        'curl GET + sync: one request, no hash — the server, loopback and disk together.',
        'qnb encryptFile: the age header from age-encryption, the payload through node:crypto',
        'ChaCha20-Poly1305 on two threads (the main thread reads, hashes the plain bytes, seals the even',
        '1 MiB batches and writes; a worker seals the odd ones and hashes the encrypted bytes), sha256',
        'of the plain bytes read (checked against the manifest) and of the encrypted bytes written, no',
        'fsync; `age -r` hashes nothing. An encrypted copy writes no file: its first pass (the row of',
        'that name) checks the plain bytes and learns size and sha256 of the encrypted ones, then the',
        'upload seals the file again on the main thread into the requests (same header, nonce and key:',
        'the same bytes). Encryption rows: `sync` before each, an untimed `age` run before the first',
        '(this VM charges the first touch of a page), qnb and the CLI alternating between runs; the two',
        'copy rows of the encrypt step start from an empty bucket (bench/FINDINGS.md).',
      ].join('\n');
      await writeSection(RESULTS, 's3-copy', section);
    }
    if (OUT) await writeFile(OUT, `${JSON.stringify({ size: SIZE, results }, null, 2)}\n`);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
