import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { copySets } from '../../src/core/copy.js';
import { putText } from '../../src/core/copy-upload.js';
import { InterruptedError } from '../../src/core/errors.js';
import { silentReporter } from '../../src/core/events.js';
import { commitFile, tempPathFor, writeFileAtomic } from '../../src/core/fs-safe.js';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import { parseManifest } from '../../src/core/manifest.js';
import { pruneRepository } from '../../src/core/prune.js';
import { fetchSet } from '../../src/core/remote-fetch.js';
import { pruneRemote } from '../../src/core/remote-prune.js';
import { scanRemote } from '../../src/core/remote-scan.js';
import { createRepository, type RepoScan } from '../../src/core/repository.js';
import { createSetSink, failSafetySet, finishSet, startSet } from '../../src/core/set-lifecycle.js';
import { createMemoryBackend } from '../../src/storage/memory/memory-backend.js';
import { tempDir } from '../helpers/tmp.js';
import { markDrillFailed, syntheticRepository } from '../suites/copy-fixtures.js';

function record(file: string, data: string, over: Partial<ArtifactRecord> = {}): ArtifactRecord {
  const now = new Date().toISOString();
  return {
    target: 'qdrant',
    kind: 'qdrant-collection',
    name: 'docs',
    file,
    status: 'pending',
    bytes: Buffer.byteLength(data),
    sha256: createHash('sha256').update(data).digest('hex'),
    serverChecksum: null,
    checksumSource: 'self',
    serverVersion: '1.19.0',
    counts: { points: 3 },
    startedAt: now,
    finishedAt: now,
    durationMs: 1,
    ...over,
  };
}

async function writeArtifact(
  repo: ReturnType<typeof createRepository>,
  set: Awaited<ReturnType<typeof startSet>>,
  data: string,
) {
  const sink = createSetSink(repo, set, () => new Date());
  const reserved = await sink.reserve('qdrant', 'docs-backup', '.snapshot');
  await writeFile(reserved.tempPath, data);
  const rec = record(reserved.rel, data);
  await sink.commit(rec, reserved.tempPath);
  return rec;
}

test('layout: folders 0700, files 0600, seed file names', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const repo = createRepository(root);
  await repo.init();
  for (const d of ['', 'qdrant', 'neo4j', 'sets'])
    assert.equal((await stat(join(root, d))).mode & 0o777, 0o700, d);
  const set = await startSet(repo, 'test', new Date());
  const rec = await writeArtifact(repo, set, 'snapshot-bytes');
  assert.match(rec.file, /^qdrant\/docs-backup-\d{8}-\d{6}\.snapshot$/);
  assert.equal((await stat(repo.resolve(rec.file))).mode & 0o777, 0o600);
  assert.equal((await stat(join(root, 'sets', `${set.id}.json`))).mode & 0o777, 0o600);
  const scan = await repo.scan();
  assert.equal(scan.artifacts.length, 1);
  assert.equal(scan.artifacts[0]!.valid, true);
});

test('two files in the same second get distinct names', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  const set = await startSet(repo, 'test', new Date());
  const a = await writeArtifact(repo, set, 'one');
  const b = await writeArtifact(repo, set, 'two');
  assert.notEqual(a.file, b.file);
});

test('only complete manifest entries with matching files are valid', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  const set = await startSet(repo, 'test', new Date());
  const good = await writeArtifact(repo, set, 'good');
  const truncated = await writeArtifact(repo, set, 'will be truncated');
  await writeFile(repo.resolve(truncated.file), 'will be');
  const gone = await writeArtifact(repo, set, 'will vanish');
  await (await import('node:fs/promises')).rm(repo.resolve(gone.file));
  set.artifacts.push(record('qdrant/pending.snapshot', 'x', { status: 'pending' }));
  await writeFile(repo.resolve('qdrant/pending.snapshot'), 'x');
  await writeFile(repo.resolve('qdrant/stray.snapshot'), 'not ours');
  await repo.saveSet(set);
  const scan = await repo.scan();
  const byFile = new Map(scan.artifacts.map((a) => [a.artifact.file, a]));
  assert.equal(byFile.get(good.file)!.valid, true);
  assert.match(byFile.get(truncated.file)!.problem!, /size/);
  assert.equal(byFile.get(gone.file)!.problem, 'file missing');
  assert.match(byFile.get('qdrant/pending.snapshot')!.problem!, /incomplete/);
  assert.deepEqual(scan.unknownFiles, ['qdrant/stray.snapshot']);
});

test('cleanupLeftovers removes temp files and pending files of interrupted runs, and touches nothing else', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  const old = await startSet(repo, 'old', new Date());
  const kept = await writeArtifact(repo, old, 'kept');
  // an interrupted run: set still "running", one file renamed into place but never confirmed
  old.artifacts.push(record('qdrant/half.snapshot', 'half', { status: 'pending' }));
  await writeFile(repo.resolve('qdrant/half.snapshot'), 'half');
  await repo.saveSet(old);
  const tmp = tempPathFor(repo.resolve('qdrant/next.snapshot'));
  await writeFile(tmp, 'partial download');
  await writeFile(repo.resolve('qdrant/user-file.snapshot'), 'user');
  const report = await repo.cleanupLeftovers();
  assert.equal(report.removedTemp.length, 1);
  assert.deepEqual(report.removedPending, ['qdrant/half.snapshot']);
  assert.deepEqual(report.interruptedSets, [old.id]);
  const files = (await readdir(repo.resolve('qdrant'))).sort();
  assert.deepEqual(files, [kept.file.split('/')[1], 'user-file.snapshot'].sort());
  const reloaded = await repo.loadSet(old.id);
  assert.equal(reloaded.status, 'interrupted');
  assert.deepEqual(
    reloaded.artifacts.map((a) => a.file),
    [kept.file],
  );
});

test('cleanupLeftovers: in the folder root, a dead lock attempt and an old atomic-write temp go; a live one stays', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  const root = repo.resolve('.');
  // a PID that cannot exist (above Linux's pid_max), and this process (alive)
  const dead = join(root, '.qnb-tmp-lock-4194999-abcdef');
  const live = join(root, `.qnb-tmp-lock-${process.pid}-123456`);
  const oldWrite = join(root, '.qnb-tmp-1a2b3c4d-.qnb-neo4j-stopped.json');
  const freshWrite = join(root, '.qnb-tmp-5e6f7a8b-.qnb-neo4j-stopped.json');
  for (const f of [dead, live, oldWrite, freshWrite]) await writeFile(f, 'x');
  const hourAgo = new Date(Date.now() - 3_600_000);
  await utimes(oldWrite, hourAgo, hourAgo);
  const report = await repo.cleanupLeftovers();
  assert.deepEqual(report.removedTemp.sort(), [basename(dead), basename(oldWrite)].sort());
  const left = (await readdir(root)).filter((n) => n.startsWith('.qnb-tmp-')).sort();
  assert.deepEqual(left, [basename(live), basename(freshWrite)].sort());
});

test('entries naming a path outside the folder are never used: cleanup removes nothing there, scan lists nothing, a destination key cannot climb out', async (t) => {
  const dir = await tempDir(t);
  const repo = createRepository(join(dir, 'b'));
  await repo.init();
  await writeFile(join(dir, 'precious'), 'mine');
  await writeFile(join(dir, 'b', 'loose'), 'mine too');
  await writeFile(repo.resolve('neo4j/graph.dump'), 'a dump');
  // an interrupted run whose manifest (a copy destination's, or tampered with) names such files
  const set = await startSet(repo, 'evil', new Date());
  for (const file of [
    '../precious',
    'qdrant/../../precious',
    'qdrant//x',
    'qdrant/./x',
    'loose',
    'neo4j/graph.dump',
    'qdrant\\..\\..\\precious',
  ])
    set.artifacts.push(record(file, 'x', { status: 'pending' }));
  set.artifacts.push(
    record('qdrant/ok.snapshot', 'x', {
      status: 'ok',
      stored: {
        key: 'qdrant/../../../precious.age',
        bytes: 1,
        sha256: 'a'.repeat(64),
        encryption: 'age',
        recipients: [],
      },
    }),
  );
  await repo.saveSet(set);
  assert.deepEqual((await repo.loadSet(set.id)).artifacts, [], 'every entry refused when read');
  const report = await repo.cleanupLeftovers();
  assert.deepEqual(report.removedPending, []);
  assert.equal(await readFile(join(dir, 'precious'), 'utf8'), 'mine');
  assert.equal(await readFile(join(dir, 'b', 'loose'), 'utf8'), 'mine too');
  assert.equal(
    await readFile(repo.resolve('neo4j/graph.dump'), 'utf8'),
    'a dump',
    "a qdrant entry naming neo4j's folder",
  );
  assert.deepEqual((await repo.scan()).artifacts, []);
});

test('a set id is a file name: a manifest from a destination cannot name a set outside sets/, nor another set', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'b');
  await syntheticRepository(root, { sets: 1, bytes: 64 });
  const dest = createMemoryBackend();
  const ctx = { reporter: silentReporter, now: () => new Date('2026-12-01T00:00:00Z') };
  assert.equal((await copySets(createRepository(root), dest, ctx)).ok, true);
  const [key] = [...dest.objects.keys()].filter((k) => k.startsWith('sets/'));
  const text = dest.objects.get(key!)!.data.toString();
  const id = (JSON.parse(text) as { id: string }).id;
  for (const evil of ['../../escaped', 'a/b', '..', '', '.hidden'])
    assert.equal(parseManifest(text.replace(id, evil)), 'not a qnb set manifest', evil);
  // a manifest under another set's name is not that set
  const other = createMemoryBackend();
  await putText(other, 'sets/20990101-000000-abcd.json', text);
  const scan = await scanRemote(other, 'mem');
  assert.deepEqual(scan.sets, []);
  assert.match(scan.badManifests[0]?.problem ?? '', /not the one its name says/);
  // restore --latest --from with such a manifest writes nothing outside the backups folder
  const local = createRepository(join(dir, 'restore'));
  await local.init();
  const escaped = createMemoryBackend();
  for (const [k, v] of dest.objects) escaped.objects.set(k, v);
  escaped.objects.delete(key!);
  await putText(escaped, 'sets/x.json', text.replace(id, '../../escaped'));
  await assert.rejects(
    fetchSet(local, escaped, 'mem', { latest: true }, ctx),
    /no complete, valid backup set/,
  );
  assert.deepEqual(await readdir(dir), ['b', 'restore']);
});

test('finishSet derives ok / partial / failed', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  const s1 = await startSet(repo, 'x', new Date());
  await writeArtifact(repo, s1, 'a');
  await finishSet(repo, s1, new Date());
  assert.equal(s1.status, 'ok');
  s1.errors.push({ target: 'qdrant', name: 'b', code: 'E_SERVER', message: 'boom' });
  await finishSet(repo, s1, new Date());
  assert.equal(s1.status, 'partial');
  const s2 = await startSet(repo, 'y', new Date());
  s2.errors.push({ target: 'qdrant', name: 'b', code: 'E_SERVER', message: 'boom' });
  await finishSet(repo, s2, new Date());
  assert.equal(s2.status, 'failed');
});

test('commitFile never replaces an existing backup', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'final'), 'old');
  await writeFile(join(dir, 'tmp'), 'new');
  await assert.rejects(commitFile(join(dir, 'tmp'), join(dir, 'final')));
  assert.equal(await (await import('node:fs/promises')).readFile(join(dir, 'final'), 'utf8'), 'old');
});

test('writeFileAtomic leaves no temp file and writes 0600', async (t) => {
  const dir = await tempDir(t);
  await writeFileAtomic(join(dir, 'a.json'), '{}');
  assert.deepEqual(await readdir(dir), ['a.json']);
  assert.equal((await stat(join(dir, 'a.json'))).mode & 0o777, 0o600);
});

test('manifests from a newer qnb or with broken entries are not trusted', () => {
  assert.match(
    String(
      parseManifest(
        JSON.stringify({
          format: 'qnb-set',
          version: 99,
          id: 'x',
          status: 'ok',
          startedAt: '',
          artifacts: [],
        }),
      ),
    ),
    /newer/,
  );
  assert.equal(parseManifest('{'), 'not valid JSON');
  const m = parseManifest(
    JSON.stringify({
      format: 'qnb-set',
      version: 1,
      id: 'x',
      status: 'ok',
      startedAt: '',
      artifacts: [{ file: 'q', sha256: 'nope' }],
    }),
  );
  assert.ok(typeof m !== 'string' && m.artifacts.length === 0);
});

test('a copy destination is judged by the same rules as the backups folder: a failed verification is not valid there either, and remote retention keeps the good backup', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const sets = await syntheticRepository(root, { sets: 3, bytes: 512 });
  const repo = createRepository(root);
  const dest = createMemoryBackend('memory://same-rules');
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  assert.equal((await copySets(repo, dest, ctx)).ok, true);
  // the newest set's Qdrant snapshot failed its restore drill after it was copied; both places
  // record it (a destination filled by mirroring the backups folder holds the same manifest)
  const newest = await repo.loadSet(sets[2]!.id);
  const bad = markDrillFailed(newest, 'drill: 3 points missing');
  await repo.saveSet(newest);
  await putText(dest, `sets/${newest.id}.json`, `${JSON.stringify(newest, null, 2)}\n`);

  const local = await repo.scan();
  const remote = await scanRemote(dest, 'memory://same-rules');
  const judged = (s: RepoScan) => s.artifacts.map((a) => [a.artifact.file, a.valid, a.problem ?? '']);
  assert.deepEqual(judged(remote), judged(local));
  const onDest = remote.artifacts.find((a) => a.artifact.file === bad.file)!;
  assert.equal(onDest.valid, false);
  assert.equal(onDest.problem, 'failed verification: drill: 3 points missing');

  // retention on the destination must not take the failed snapshot for the newest valid one
  const pruned = await pruneRemote(dest, 'memory://same-rules', ctx, { policy: { keepLast: 1 } });
  const kept = pruned.decisions
    .filter((d) => d.action === 'keep' && d.id.startsWith('qdrant/'))
    .map((d) => d.id);
  const older = (await repo.loadSet(sets[1]!.id)).artifacts.find((a) => a.target === 'qdrant')!.file;
  assert.ok(kept.includes(older), `the newest good Qdrant snapshot ${older} is kept: ${kept.join(', ')}`);
  assert.ok(dest.objects.has(older));
  assert.ok(dest.objects.has(bad.file), 'an invalid entry is never removed by retention');
});

test("entries a newer qnb wrote (a kind this qnb does not know) survive this qnb's prune, cleanup, copy and remote prune", async (t) => {
  const root = join(await tempDir(t), 'backups');
  const sets = await syntheticRepository(root, { sets: 2, bytes: 256 });
  const repo = createRepository(root);
  const ctx = { reporter: silentReporter, now: () => new Date('2026-11-10T00:00:00Z') };
  const manifestOf = (id: string) => join(root, 'sets', `${id}.json`);
  // a newer qnb's entry, under the same manifest version, in the older set
  const newer = {
    target: 'qdrant',
    kind: 'qdrant-shard-delta',
    name: 'papers',
    file: 'qdrant/papers-delta-20261101-020000.delta',
    status: 'ok',
    bytes: 3,
    sha256: 'a'.repeat(64),
    deltaOf: 'qdrant/papers-backup-20261101-020000.snapshot',
  };
  const raw = JSON.parse(await readFile(manifestOf(sets[0]!.id), 'utf8'));
  raw.artifacts.push(newer);
  await writeFile(manifestOf(sets[0]!.id), JSON.stringify(raw));
  const entriesIn = async (id: string) =>
    (JSON.parse(await readFile(manifestOf(id), 'utf8')) as { artifacts: { kind: string }[] }).artifacts;

  // never listed nor acted on
  assert.ok(!(await repo.scan()).artifacts.some((a) => a.artifact.file === newer.file));
  // the destination gets only what was copied: the entry whose file stayed behind is not listed there
  const dest = createMemoryBackend('memory://newer');
  assert.equal((await copySets(repo, dest, ctx)).ok, true);
  const onDest = JSON.parse(dest.objects.get(`sets/${sets[0]!.id}.json`)!.data.toString('utf8'));
  assert.ok(!onDest.artifacts.some((a: { kind: string }) => a.kind === newer.kind));
  // local retention rewrites the manifest: the entry stays, as it was
  const pruned = await pruneRepository(repo, ctx, { policy: { keepLast: 1 } });
  assert.ok(pruned.removed.length > 0, 'the older set was pruned');
  const after = await entriesIn(sets[0]!.id);
  assert.deepEqual(after, [newer]);
  // an interrupted-set cleanup rewrites it too
  const running = { ...raw, status: 'running', pid: 1 << 22 };
  await writeFile(manifestOf(sets[0]!.id), JSON.stringify(running));
  await repo.cleanupLeftovers();
  assert.deepEqual(
    (await entriesIn(sets[0]!.id)).filter((a) => a.kind === newer.kind),
    [newer],
  );
  // on the destination: a newer qnb's entry there survives this qnb's remote prune
  const destRaw = JSON.parse(dest.objects.get(`sets/${sets[0]!.id}.json`)!.data.toString('utf8'));
  destRaw.artifacts.push(newer);
  await putText(dest, `sets/${sets[0]!.id}.json`, JSON.stringify(destRaw));
  const remote = await pruneRemote(dest, 'memory://newer', ctx, { policy: { keepLast: 1 } });
  assert.ok(remote.removed.length > 0, 'the older set was pruned on the destination');
  const destAfter = JSON.parse(dest.objects.get(`sets/${sets[0]!.id}.json`)!.data.toString('utf8'));
  assert.deepEqual(destAfter.artifacts, [newer]);
});

test('a safety backup cut short: its set says interrupted, and the message keeps what the cleanup could not do', async (t) => {
  const repo = createRepository(join(await tempDir(t), 'b'));
  await repo.init();
  /** A safety set that ends with `err`: its id and the error the restore reports. */
  const safetyFails = async (err: Error) => {
    const set = await startSet(repo, 'restore-neo4j (safety backup)', new Date(), 'pre-restore');
    const entry = { target: 'neo4j' as const, name: 'neo4j' };
    return {
      id: set.id,
      e: await failSafetySet(repo, set, entry, 'safety backup of "neo4j"', err, new Date()),
    };
  };
  const plain = await safetyFails(new InterruptedError());
  assert.equal(plain.e.code, 'E_INTERRUPTED');
  assert.equal(plain.e.message, 'safety backup of "neo4j" was interrupted, so nothing was restored');
  const withCleanup = await safetyFails(
    new InterruptedError('interrupted (cleanup also failed: neo4j start failed: exit 1)'),
  );
  assert.match(
    withCleanup.e.message,
    /was interrupted, so nothing was restored: interrupted \(cleanup also failed: neo4j start failed/,
  );
  const failed = await safetyFails(new Error('disk full'));
  assert.match(failed.e.message, /failed, so nothing was restored: disk full/);
  const statuses = new Map((await repo.scan()).sets.map((s) => [s.id, s.status] as const));
  assert.equal(statuses.get(plain.id), 'interrupted');
  assert.equal(statuses.get(withCleanup.id), 'interrupted');
  assert.equal(statuses.get(failed.id), 'failed');
});
