/**
 * The online Neo4j export end to end, on a real Neo4j 5.26 Community server through the real qnb
 * binary: export while Neo4j runs (same server process before and after, no stop), big integers
 * exact in the file, wreck → restore refuses without --yes → with --yes the exact graph and schema
 * are back (safety export first), backup-all in export mode, a corrupt or foreign file refused
 * before anything is touched, bad input as one line, and the restore drill of `verify --deep`.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { IN_CI } from '../helpers/components.js';
import { graphHash, seedTypedGraph, wreckGraph } from '../helpers/neo4j-data.js';
import { hasStackTrace } from '../helpers/qnb-world.js';
import { createNeo4jHome, type Neo4jHome, neo4jAvailable } from '../servers/neo4j/harness.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);
const skip = avail.ok ? false : `Neo4j missing — ${avail.hint}`;

interface Listed {
  file: string;
  valid: boolean;
  target: string;
  kind: string;
  reason: string;
}

describe('Neo4j online export through the CLI', { skip, timeout: 30 * 60_000 }, () => {
  const password = `pw-${randomBytes(6).toString('hex')}`;
  let n: Neo4jHome;
  let cwd: string;
  let env: NodeJS.ProcessEnv;
  let original: Awaited<ReturnType<typeof graphHash>>;
  const qnb = (args: string[], extra: Record<string, string> = {}) =>
    runQnb(args, { cwd, env: { ...env, ...extra }, timeoutMs: 600_000 });
  const bolt = () => graphHash(n.boltUrl, password);
  const listed = async () => {
    const r = await qnb(['list', '--json']);
    return (JSON.parse(r.stdout) as { backups: Listed[] }).backups.filter((b) => b.target === 'neo4j');
  };
  const exports = async () => (await listed()).filter((b) => b.kind === 'neo4j-export');
  const lines = async (file: string) =>
    gunzipSync(await readFile(join(cwd, 'backups', file)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    n = await createNeo4jHome({ password });
    await n.start();
    await seedTypedGraph(n.boltUrl, password);
    original = await bolt();
    cwd = await mkdtemp(join(tmpdir(), 'qnb-neo4j-export-e2e-'));
    // no NEO4J_HOME: the export and its restore need Bolt only
    env = qnbEnv({ NEO4J_URI: n.boltUrl, NEO4J_PASSWORD: password, NEO4J_MODE: 'export' });
  });
  after(async () => {
    await n?.remove();
    if (cwd) await rm(cwd, { recursive: true, force: true });
  });

  test('backup-neo4j --neo4j-mode export: online (same Neo4j process, never stopped), one valid file', async () => {
    const pid = n.pid();
    const run = await qnb(['backup-neo4j', '--neo4j-mode', 'export'], { NEO4J_MODE: 'dump' });
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(
      run.stdout,
      /✅ Neo4j \(neo4j\)\n {3}Export: neo4j-\d{8}-\d{6}\.export\.jsonl\.gz\n {3}Size: \d+\.\d MB\n {3}Nodes: \d+\n {3}Relationships: \d+/,
    );
    assert.match(run.stdout, new RegExp(`Nodes: ${original.nodes}\\b`));
    assert.match(run.stdout, new RegExp(`Relationships: ${original.relationships}\\b`));
    assert.match(run.stdout, /Downtime: none/);
    assert.doesNotMatch(run.stderr, /stopping Neo4j|starting Neo4j/);
    assert.equal(n.pid(), pid, 'the same Neo4j process served before and after');
    assert.ok(!existsSync(join(cwd, 'backups', '.qnb-neo4j-stopped.json')), 'no stop marker');
    assert.ok(!(run.stdout + run.stderr).includes(password));
    const files = await exports();
    assert.deepEqual(
      files.map((b) => b.valid),
      [true],
    );
    assert.equal((await qnb(['verify'])).code, 0);
    assert.equal((await bolt()).hash, original.hash, 'the export changed nothing');
  });

  test('doctor in export mode: Bolt is all it needs', async () => {
    const run = await qnb(['doctor', '--skip-qdrant']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /✔ neo4j: Neo4j configured — export mode over Bolt/);
    assert.match(run.stdout, /✔ neo4j: Bolt and credentials/);
  });

  test('the file: header, schema, nodes, relationships, end; integers beyond 2^53 exact', async () => {
    const [file] = await exports();
    const all = await lines(file!.file);
    const kinds = all.map((l) => l.kind);
    assert.equal(kinds[0], 'header');
    assert.equal(kinds.at(-1), 'end');
    assert.deepEqual(
      [...new Set(kinds)],
      ['header', 'constraint', 'index', 'node', 'relationship', 'end'],
      'in this order',
    );
    const header = all[0] as { format: string; version: number; database: string; neo4jVersion: string };
    assert.equal(header.format, 'qnb-neo4j-export');
    assert.equal(header.version, 1);
    assert.equal(header.database, 'neo4j');
    assert.match(header.neo4jVersion, /^5\.26\./);
    assert.ok(!all.some((l) => l.type === 'LOOKUP'), 'LOOKUP indexes are not exported');
    assert.ok(
      !all.some((l) => l.kind === 'index' && l.name === 'paper_uid'),
      'constraint-owned index skipped',
    );
    const props = (uid: string) =>
      (all.find(
        (l) => l.kind === 'node' && (l.properties as { uid?: { string: string } }).uid?.string === uid,
      )!.properties ?? {}) as Record<string, unknown>;
    assert.deepEqual(props('p1').big, { int: '9007199254740994' });
    assert.deepEqual(props('edge-1').maxInt, { int: '9223372036854775807' });
    assert.deepEqual(props('edge-1').minInt, { int: '-9223372036854775808' });
    assert.deepEqual(props('edge-1').nan, { float: 'NaN' });
    assert.deepEqual(props('p1').raw, { bytes: 'AAEC/v8=' });
  });

  test('wreck → restore without --yes refuses → with --yes the exact graph and schema are back, safety export first', async () => {
    await wreckGraph(n.boltUrl, password);
    const wrecked = await bolt();
    assert.notEqual(wrecked.hash, original.hash);
    const refused = await qnb(['restore-neo4j', '--latest']);
    assert.equal(refused.code, 2, refused.stdout + refused.stderr);
    assert.match(refused.stderr, /would be overwritten — re-run with --yes/);
    assert.equal((await bolt()).hash, wrecked.hash, 'refusal touched nothing');
    const pid = n.pid();
    const run = await qnb(['restore-neo4j', '--latest', '--yes']);
    assert.equal(run.code, 0, run.stderr + run.stdout);
    assert.match(run.stdout, /Nodes: [\d,]+ \(manifest: [\d,]+\) ✔/);
    assert.match(run.stdout, /Sampled records: 6 identical ✔/);
    assert.match(run.stdout, /Indexes and constraints: 2 replayed/);
    assert.match(run.stdout, /Safety export of the overwritten database: set \S+/);
    assert.equal(n.pid(), pid, 'Neo4j kept running');
    const restored = await bolt();
    assert.deepEqual(restored.schema, original.schema);
    assert.equal(restored.hash, original.hash, 'same nodes, relationships, properties, index and constraint');
    const safety = (await listed()).filter((b) => b.reason === 'pre-restore');
    assert.equal(safety.length, 1, 'safety export of the wrecked database');
    assert.ok(safety[0]!.valid);
    assert.equal(safety[0]!.kind, 'neo4j-export');
  });

  test('backup-all with NEO4J_MODE=export, then restoring an export into an empty database needs no --yes', async () => {
    const all = await qnb(['backup-all', '--skip-qdrant', '--no-cleanup']);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, /Export: neo4j-\d{8}-\d{6}(-\d+)?\.export\.jsonl\.gz/);
    const newest = (await exports()).filter((b) => b.reason === 'backup')[0]!;
    await wreckGraph(n.boltUrl, password);
    const { default: neo4j } = await import('neo4j-driver');
    const d = neo4j.driver(n.boltUrl, neo4j.auth.basic('neo4j', password));
    await d.executeQuery('MATCH (x) DETACH DELETE x');
    await d.close();
    const run = await qnb(['restore-neo4j', newest.file]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal((await bolt()).hash, original.hash);
  });

  test('a corrupt export (sha256) and a foreign file are refused before anything is touched', async () => {
    const [file] = (await exports()).filter((b) => b.reason === 'backup');
    const path = join(cwd, 'backups', file!.file);
    await wreckGraph(n.boltUrl, password);
    const wrecked = await bolt();
    const fh = await open(path, 'r+');
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 40);
    await fh.write(Buffer.from([b[0]! ^ 0xff]), 0, 1, 40);
    const corrupt = await qnb(['restore-neo4j', file!.file, '--yes']);
    await fh.write(b, 0, 1, 40);
    await fh.close();
    assert.equal(corrupt.code, 4, corrupt.stdout + corrupt.stderr);
    assert.match(
      corrupt.stderr,
      /file is corrupt \(sha256 or size differs from the manifest\); nothing was restored/,
    );
    assert.ok(!hasStackTrace(corrupt));
    // a file outside any manifest, forced: checked line by line before the database is cleared
    const foreign = join(cwd, 'foreign.export.jsonl.gz');
    await writeFile(foreign, gzipSync('{"kind":"header","format":"something-else","version":1}\n'));
    const forced = await qnb(['restore-neo4j', foreign, '--force', '--yes']);
    assert.equal(forced.code, 4, forced.stdout + forced.stderr);
    assert.match(forced.stderr, /not a readable qnb Neo4j export: header: format "something-else"/);
    assert.equal(
      forced.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('✘')).length,
      1,
    );
    assert.ok(!hasStackTrace(forced));
    assert.equal((await bolt()).hash, wrecked.hash, 'nothing was touched');
    assert.equal((await qnb(['restore-neo4j', file!.file, '--yes'])).code, 0);
    assert.equal((await bolt()).hash, original.hash);
  });

  test('a dangling relationship is refused before anything is touched; an import that fails half-way rolls back', async () => {
    const header = JSON.parse(
      gunzipSync(await readFile(join(cwd, 'backups', (await exports())[0]!.file)))
        .toString('utf8')
        .split('\n')[0]!,
    );
    const gz = async (name: string, ls: unknown[]) => {
      await writeFile(join(cwd, name), gzipSync(ls.map((l) => JSON.stringify(l)).join('\n')));
      return join(cwd, name);
    };
    const node = { kind: 'node', id: 'a', labels: ['X'], properties: { k: { int: '1' } } };
    const rel = { kind: 'relationship', id: 'r', type: 'T', start: 'a', end: 'nowhere', properties: {} };
    const dangling = await gz('dangling.export.jsonl.gz', [
      header,
      node,
      rel,
      { kind: 'end', counts: { nodes: 1, relationships: 1 } },
    ]);
    const refused = await qnb(['restore-neo4j', dangling, '--force', '--yes']);
    assert.equal(refused.code, 4, refused.stdout + refused.stderr);
    assert.match(
      refused.stderr,
      /dangling\.export\.jsonl\.gz: not a readable qnb Neo4j export: relationship r: its end node nowhere is not in the file/,
    );
    assert.doesNotMatch(refused.stderr + refused.stdout, /clearing|rolled back/);
    assert.equal((await bolt()).hash, original.hash, 'nothing was touched');
    // a file that checks out but fails after the data is in: its constraint does not hold
    const unique = {
      kind: 'constraint',
      name: 'x_k',
      type: 'UNIQUENESS',
      entityType: 'NODE',
      labelsOrTypes: ['X'],
      properties: ['k'],
      createStatement: 'CREATE CONSTRAINT x_k FOR (n:X) REQUIRE n.k IS UNIQUE',
    };
    const broken = await gz('duplicate.export.jsonl.gz', [
      header,
      unique,
      node,
      { ...node, id: 'b' },
      { kind: 'end', counts: { nodes: 2, relationships: 0 } },
    ]);
    const run = await qnb(['restore-neo4j', broken, '--force', '--yes']);
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.ok(!hasStackTrace(run));
    assert.match(run.stderr, /constraint "x_k" \(CREATE CONSTRAINT x_k FOR \(n:X\) REQUIRE n\.k IS UNIQUE\)/);
    assert.match(
      run.stderr,
      /so qnb rolled back: "neo4j" was put back from the safety export and Neo4j runs with/,
    );
    assert.equal((await bolt()).hash, original.hash, 'the database holds what it held before');
  });

  test('bad input: wrong password, wrong Bolt URL — one line, non-zero, nothing valid written', async () => {
    const before = (await listed()).length;
    const cases: [Record<string, string>, RegExp][] = [
      [
        { NEO4J_PASSWORD: 'wrong-password' },
        /authentication failed for user "neo4j" — check NEO4J_USER and NEO4J_PASSWORD/,
      ],
      [
        { NEO4J_URI: 'bolt://127.0.0.1:1' },
        /cannot reach the server over Bolt — is Neo4j running\? check NEO4J_URI/,
      ],
    ];
    for (const [extra, message] of cases) {
      const run = await qnb(['backup-neo4j'], extra);
      assert.equal(run.code, 1, run.stdout + run.stderr);
      assert.match(run.stdout + run.stderr, message);
      assert.ok(!hasStackTrace(run));
      assert.ok(!(run.stdout + run.stderr).includes('wrong-password'));
    }
    assert.equal((await listed()).filter((b) => b.valid).length, before);
    assert.equal((await bolt()).hash, original.hash);
  });

  test('verify --deep: the export is imported into a scratch Neo4j; the live database is not touched', async () => {
    const [file] = (await exports()).filter((b) => b.reason === 'backup');
    const run = await qnb(['verify', '--deep', file!.file], { NEO4J_HOME: n.home });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.match(
      run.stdout,
      /✅ neo4j\/neo4j-\d{8}-\d{6}(-\d+)?\.export\.jsonl\.gz \(sha256 \+ restore drill\)/,
    );
    assert.match(run.stderr, /drill: starting the scratch Neo4j/);
    assert.equal((await bolt()).hash, original.hash);
  });
});
