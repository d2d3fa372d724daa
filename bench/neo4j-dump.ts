/**
 * Bench: `qnb backup-neo4j` (dump mode) on a real Neo4j 5.26 Community local install, beside the
 * same work done by hand in the same run — `bin/neo4j stop`, `bin/neo4j-admin database dump`,
 * `bin/neo4j start` and waiting until Bolt answers. SPEC target: qnb ≤ 1.05× the raw steps.
 *
 *   npm run build && node --import tsx bench/neo4j-dump.ts [--papers 100000] [--runs 3] [--results bench/RESULTS.md]
 *
 * The two contenders alternate (raw, qnb, qnb, raw, …) so drift in machine load hits both.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import neo4j from 'neo4j-driver';
import { countGraph, createNeo4jHome, waitForBolt } from '../test/servers/neo4j/harness.js';
import { arg } from './lib/args.js';
import { runOk } from './lib/proc.js';
import { loadAverage, writeSection } from './lib/results-section.js';
import { fmt, median, table } from './lib/stats.js';

const QNB = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const PAPERS = Number(arg('papers', '100000'));
const RUNS = Number(arg('runs', '3'));
const RESULTS = arg('results', '');

/** `papers` Paper nodes (with some text) citing the previous one, in batches (auto-commit transactions). */
async function seed(url: string, password: string, papers: number): Promise<void> {
  const driver = neo4j.driver(url, neo4j.auth.basic('neo4j', password));
  const session = driver.session();
  try {
    await session.run('CREATE INDEX paper_id IF NOT EXISTS FOR (p:Paper) ON (p.id)');
    await session.run('CALL db.awaitIndexes(300)');
    await session.run(
      `UNWIND range(1, $n) AS i
       CALL { WITH i CREATE (:Paper {id: i, title: 'Paper ' + i, year: 1990 + i % 30, abstract: $text}) }
       IN TRANSACTIONS OF 10000 ROWS`,
      { n: neo4j.int(papers), text: 'lorem ipsum dolor sit amet '.repeat(8) },
    );
    await session.run(
      `MATCH (a:Paper) WHERE a.id > 1
       CALL { WITH a MATCH (b:Paper {id: a.id - 1}) CREATE (a)-[:CITES {weight: a.id % 5}]->(b) }
       IN TRANSACTIONS OF 10000 ROWS`,
    );
  } finally {
    await session.close();
    await driver.close();
  }
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'qnb-bench-neo4j-'));
  const password = `pw-${randomBytes(6).toString('hex')}`;
  const h = await createNeo4jHome({ password });
  try {
    await h.start();
    await seed(h.boltUrl, password, PAPERS);
    const counts = await countGraph(h.boltUrl, h.user, password);
    const env = {
      ...h.env,
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      JAVA_HOME: process.env.JAVA_HOME,
      NEO4J_HOME: h.home,
      NEO4J_URI: h.boltUrl,
      NEO4J_PASSWORD: password,
      QNB_BACKUP_DIR: join(work, 'backups'),
    };
    const raw = async (i: number) => {
      const out = join(work, `raw-${i}`);
      await mkdir(out);
      const t0 = performance.now();
      await runOk(h.neo4jBin, ['stop'], { env: h.env, timeoutMs: 300_000 });
      await runOk(h.neo4jAdminBin, ['database', 'dump', 'neo4j', `--to-path=${out}`], {
        env: h.env,
        timeoutMs: 600_000,
      });
      await runOk(h.neo4jBin, ['start'], { env: h.env, timeoutMs: 300_000 });
      await waitForBolt(h.boltUrl, h.user, password);
      const ms = performance.now() - t0;
      const [file] = await readdir(out);
      return { ms, bytes: (await stat(join(out, file!))).size };
    };
    const qnb = async () => {
      const r = await runOk(process.execPath, [QNB, 'backup-neo4j'], { env, timeoutMs: 600_000 });
      return { ms: r.wallMs };
    };
    const rawMs: number[] = [];
    const qnbMs: number[] = [];
    let dumpBytes = 0;
    for (let i = 0; i < RUNS; i++) {
      const order = i % 2 === 0 ? ['raw', 'qnb'] : ['qnb', 'raw'];
      for (const who of order) {
        if (who === 'raw') {
          const r = await raw(i);
          rawMs.push(r.ms);
          dumpBytes = r.bytes;
        } else qnbMs.push((await qnb()).ms);
        process.stderr.write(
          `run ${i + 1} ${who}: ${fmt((who === 'raw' ? rawMs : qnbMs).at(-1)! / 1000)} s\n`,
        );
      }
    }
    const ratio = median(qnbMs) / median(rawMs);
    const paired = median(qnbMs.map((q, i) => q / rawMs[i]!));
    const lines = [
      `Machine: ${cpus().length} cores, Node ${process.version}; Neo4j ${h.version} Community, local install (harness defaults: 512 MB heap, 128 MB page cache).`,
      `Graph: ${counts.nodes.toLocaleString('en-US')} nodes, ${counts.relationships.toLocaleString('en-US')} relationships (${PAPERS} papers with text, each citing the one before); dump ${fmt(dumpBytes / 1024 ** 2, 1)} MB; ${RUNS} run(s) each, alternating.`,
      '',
      table(
        ['contender', 'median s', 'runs (s)'],
        [
          [
            'raw: `neo4j stop` + `neo4j-admin database dump` + `neo4j start` + Bolt answers',
            fmt(median(rawMs) / 1000),
            rawMs.map((m) => fmt(m / 1000)).join(', '),
          ],
          [
            '`qnb backup-neo4j` (counts + sample over Bolt, stop, dump streamed + sha256 + fsync, start, Bolt)',
            fmt(median(qnbMs) / 1000),
            qnbMs.map((m) => fmt(m / 1000)).join(', '),
          ],
        ],
      ),
      '',
      `**qnb / raw = ${fmt(ratio)}** (paired per run: ${fmt(paired)}) — target ≤ 1.05: ${ratio <= 1.05 ? '✅ meets target' : '❌ misses target'}.`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (RESULTS) {
      const cmd = `npm run build && node --import tsx bench/neo4j-dump.ts --papers ${PAPERS} --runs ${RUNS} --results ${RESULTS}`;
      await writeSection(
        RESULTS,
        'neo4j-dump',
        [
          '## Neo4j dump: qnb beside the raw stop + dump + start',
          '',
          `Measured ${new Date().toISOString()} with \`${cmd}\` (load average ${await loadAverage()}).`,
          '',
          ...lines,
          '',
          'Both stop Neo4j with `bin/neo4j stop` and wait for Bolt after `bin/neo4j start`. What qnb adds:',
          'node start-up, reading counts and a sample over Bolt before the stop, its lock and manifest, and',
          'hashing + fsync of the dump it streams from `neo4j-admin database dump --to-stdout`.',
          '',
          'One traced run on a tiny graph (2026-11-26): 2.3 s before the stop (node start-up, lock, Bolt',
          'driver load, counts + sample), stop 3.2 s, dump 3.9 s, start until Bolt answers 8.5 s. The fixed',
          "part qnb adds is about 2–3 s whatever the graph's size, so the ratio falls as the database grows;",
          'two costs were removed after the first measurement (1.36–1.42): `bin/neo4j status` (a 2 s JVM, twice',
          'per backup) is replaced by reading the PID file, and Bolt is polled every 250 ms after the start',
          'instead of every second.',
        ].join('\n'),
      );
    }
  } finally {
    await h.remove();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
