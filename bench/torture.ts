/**
 * Crash torture (`npm run torture`): N trials of `backup-all`, `restore --latest --yes`, `copy`
 * and `prune`, each killed with SIGKILL at a random moment, against the Qdrant test server and a
 * real local Neo4j 5.26. After each trial, before any other qnb command, Neo4j must answer Bolt
 * (within 60 s of the last child qnb left in flight ending — its guardian's job); then:
 *   - the lock is recoverable and everything listed valid verifies (`qnb verify`, exit 0);
 *   - nothing valid was lost (prune: each target keeps its newest valid backup and --keep-last);
 *   - server-side snapshot leftovers are gone after the next run (`qnb backup-qdrant`);
 *   - an interrupted load leaves a notice naming the safety dump (then reloaded with it).
 * Bounded: stops after N trials. Seeded: `--seed S` replays the same ops and kill points.
 *
 *   npm run torture -- --trials 100 --seed 42 [--results bench/RESULTS.md | --results -]
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../src/cli/exit-codes.js';
import { qnbEnv, runQnb, startQnb } from '../test/helpers/cli.js';
import { seedTypedGraph } from '../test/helpers/neo4j-data.js';
import { clientFor, seedCollections } from '../test/helpers/qdrant-data.js';
import { createNeo4jHome, waitForBolt } from '../test/servers/neo4j/harness.js';
import { startQdrantTestServer } from '../test/servers/qdrant/index.js';
import { arg } from './lib/args.js';
import { loadAverage, writeSection } from './lib/results-section.js';

type Op = 'backup-all' | 'restore' | 'copy' | 'prune';
const OPS: Op[] = ['backup-all', 'restore', 'copy', 'prune'];
const KEEP_LAST = 3;

const trials = Number(arg('trials', '100'));
const seed = Number(arg('seed', String(Math.floor(Math.random() * 2 ** 31))));
const resultsFile = arg('results', 'bench/RESULTS.md');

/** mulberry32: small, seedable, good enough to pick ops and kill points. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Marker {
  pid: number;
  children?: { pid: number; what: string }[];
  loading?: unknown;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

interface Listed {
  file: string;
  valid: boolean;
  target: string;
  name: string;
  reason: string;
  createdAt?: string;
}

async function main(): Promise<number> {
  console.log(
    `torture: ${trials} trials, seed ${seed} (replay: npm run torture -- --trials ${trials} --seed ${seed})`,
  );
  const t0 = Date.now();
  const password = `pw-${Math.floor(Math.random() * 1e9).toString(36)}`;
  const qdrant = await startQdrantTestServer();
  const neo = await createNeo4jHome({ password });
  const cwd = await mkdtemp(join(tmpdir(), 'qnb-torture-'));
  const copyDir = join(cwd, 'offsite');
  await mkdir(copyDir);
  const backups = join(cwd, 'backups');
  const marker = join(backups, '.qnb-neo4j-stopped.json');
  const env = qnbEnv({
    QDRANT_URL: qdrant.url,
    NEO4J_HOME: neo.home,
    NEO4J_URI: neo.boltUrl,
    NEO4J_PASSWORD: password,
    QNB_KEEP_LAST: String(KEEP_LAST),
    JAVA_HOME: process.env.JAVA_HOME,
  });
  const qnb = (args: string[]) => runQnb(args, { cwd, env, timeoutMs: 900_000 });
  const argsOf: Record<Op, string[]> = {
    'backup-all': ['backup-all'],
    restore: ['restore', '--latest', '--yes'],
    copy: ['copy', '--to', copyDir],
    prune: ['prune', '--keep-last', String(KEEP_LAST)],
  };
  const phases = new Map<string, number>();
  let stopping = false;
  let done = 0;
  const violations = new Map<string, string[]>();
  const violate = (kind: string, detail: string) => {
    violations.set(kind, [...(violations.get(kind) ?? []), detail]);
    console.log(`  ✘ ${kind}: ${detail}`);
  };
  try {
    await neo.start();
    await seedTypedGraph(neo.boltUrl, password);
    await seedCollections(clientFor(qdrant.url));
    // calibration: each op once, unkilled; its duration bounds the kill points
    const duration: Record<Op, number> = { 'backup-all': 0, restore: 0, copy: 0, prune: 0 };
    for (const op of OPS) {
      const s = Date.now();
      const r = await qnb(argsOf[op]);
      if (r.code !== 0) throw new Error(`calibration ${op} failed (${r.code}): ${r.stderr}`);
      duration[op] = Date.now() - s;
    }
    console.log(
      `calibrated: ${OPS.map((o) => `${o} ${(duration[o] / 1000).toFixed(1)} s`).join(', ')} (load ${await loadAverage()})`,
    );
    const listed = async (): Promise<Listed[]> => {
      const r = await qnb(['list', '--json']);
      return (JSON.parse(r.stdout) as { backups: Listed[] }).backups;
    };
    const random = rng(seed);
    // Ctrl-C / SIGTERM: finish the trial in flight, clean up, print what was done
    process.once('SIGINT', () => {
      stopping = true;
    });
    process.once('SIGTERM', () => {
      stopping = true;
    });
    for (let i = 1; i <= trials && !stopping; i++) {
      done = i;
      const op = OPS[Math.floor(random() * OPS.length)]!;
      const frac = random();
      const delay = Math.round(frac * duration[op] * 1.1);
      const before = (await listed()).filter((b) => b.valid);
      // --- the kill
      const proc = startQnb(argsOf[op], { cwd, env });
      let exited = false;
      void proc.done.then(() => {
        exited = true;
      });
      await sleep(delay);
      let phase = 'after exit';
      let m: Marker | undefined;
      if (!exited) {
        m = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as Marker) : undefined;
        const child = m?.children?.find((c) => alive(c.pid))?.what ?? '';
        phase = m
          ? /neo4j stop$/.test(child)
            ? 'neo4j stop'
            : /neo4j start$/.test(child)
              ? 'neo4j start'
              : /database dump/.test(child)
                ? 'neo4j-admin dump'
                : /database load/.test(child)
                  ? 'neo4j-admin load'
                  : 'Neo4j stopped, between steps'
          : 'Neo4j running';
        proc.child.kill('SIGKILL');
      }
      await proc.done;
      const key = `${op}: ${phase}`;
      phases.set(key, (phases.get(key) ?? 0) + 1);
      const tag = `#${i} ${op} killed at ${delay} ms (${phase})`;
      console.log(tag);
      // --- invariant: Neo4j back on Bolt with no qnb command (its guardian)
      const m2 = existsSync(marker) ? (JSON.parse(readFileSync(marker, 'utf8')) as Marker) : m;
      const settle = Date.now();
      for (const c of m2?.children ?? [])
        while (alive(c.pid) && Date.now() - settle < 300_000) await sleep(100);
      const half = join(backups, '.qnb-neo4j-half-loaded.json');
      const waitStart = Date.now();
      let up = false;
      while (Date.now() - waitStart < 60_000) {
        try {
          await waitForBolt(neo.boltUrl, 'neo4j', password, 2_000);
          up = true;
          break;
        } catch {}
        if (
          existsSync(half) &&
          (JSON.parse(readFileSync(half, 'utf8')) as { loadable: boolean }).loadable === false
        )
          break;
      }
      if (!up) {
        if (existsSync(half)) {
          const status = await qnb(['status']);
          const cmd = /`qnb (restore-neo4j \S+ --yes)`/.exec(status.stdout)?.[1];
          if (!cmd) violate('half-loaded without the safety dump named', `${tag}: ${status.stdout}`);
          else {
            phases.set(
              '(interrupted load left stopped, reloaded from safety dump)',
              (phases.get('(interrupted load left stopped, reloaded from safety dump)') ?? 0) + 1,
            );
            const r = await qnb(cmd.split(' '));
            if (r.code !== 0) violate('safety dump reload failed', `${tag}: ${r.stderr}`);
          }
        } else violate('neo4j down after 60 s', tag);
      }
      // --- invariants: lock recoverable, every valid backup verifies
      const verify = await qnb(['verify']);
      if (verify.code === EXIT.LOCKED) violate('lock not recoverable', `${tag}: ${verify.stderr}`);
      else if (verify.code !== 0)
        violate('listed valid but does not verify', `${tag}: ${verify.stdout}${verify.stderr}`);
      // --- nothing valid lost
      const after = (await listed()).filter((b) => b.valid);
      const afterFiles = new Set(after.map((b) => b.file));
      if (op === 'restore' || op === 'copy') {
        for (const b of before)
          if (!afterFiles.has(b.file)) violate('valid backup lost', `${tag}: ${b.file}`);
      } else {
        // backup-all and prune apply retention: each target keeps its newest valid backup and --keep-last
        const key = (b: Listed) => `${b.target}/${b.name}/${b.reason}`;
        const byTarget = new Map<string, Listed[]>();
        for (const b of before) byTarget.set(key(b), [...(byTarget.get(key(b)) ?? []), b]);
        for (const [t, list] of byTarget) {
          const newest = list.reduce((a, b) => ((a.createdAt ?? '') >= (b.createdAt ?? '') ? a : b));
          if (!afterFiles.has(newest.file)) violate('valid backup lost', `${tag}: newest ${newest.file}`);
          const kept = after.filter((b) => key(b) === t).length;
          if (kept < Math.min(list.length, KEEP_LAST))
            violate('valid backup lost', `${tag}: ${t} kept ${kept}`);
        }
      }
      // --- server-side snapshot leftovers: cleaned by the next run
      const next = await qnb(['backup-qdrant']);
      if (next.code !== 0) violate('next run failed', `${tag}: ${next.stderr}`);
      const c = clientFor(qdrant.url);
      for (const col of ['papers', 'chunks']) {
        const snaps = await c.listSnapshots(col).catch(() => []);
        if (snaps.length)
          violate('server snapshot leftover', `${tag}: ${col}: ${snaps.map((s) => s.name).join(', ')}`);
      }
      const full = await c.listFullSnapshots().catch(() => []);
      if (full.length)
        violate('server snapshot leftover', `${tag}: full: ${full.map((s) => s.name).join(', ')}`);
    }
  } finally {
    await neo.remove().catch(() => {});
    await qdrant.stop().catch(() => {});
    await rm(cwd, { recursive: true, force: true }).catch(() => {});
  }
  const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
  const total = [...violations.values()].reduce((n, v) => n + v.length, 0);
  const lines = [
    `## Crash torture (\`npm run torture\`)`,
    '',
    `${done === trials ? trials : `${done} of ${trials}`} trials, seed ${seed}, ${minutes} min, load average at the end ${await loadAverage()} — ${total} violations.`,
    '',
    '| kills per phase (op: where qnb was when killed) | trials |',
    '|---|---:|',
    ...[...phases].sort().map(([k, n]) => `| ${k} | ${n} |`),
    '',
    '| violation | count |',
    '|---|---:|',
    ...(total ? [...violations].map(([k, v]) => `| ${k} | ${v.length} |`) : ['| (none) | 0 |']),
  ];
  console.log(`\n${lines.join('\n')}`);
  if (resultsFile !== '-') await writeSection(resultsFile, 'torture', lines.join('\n'));
  return total ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
