/**
 * What qnb concludes from a copy destination whose copies are missing or damaged: `restore SET
 * --from` does not restore a set in part without saying so; `verify --deep --from` reads every
 * copy back before it drills; `copy` sends again what a set already on the destination lacks. The stores are stand-in targets that
 * record what they were asked to restore; the copies are real files in a memory destination.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { defaultConfig } from '../../src/config/schema.js';
import { copySets } from '../../src/core/copy.js';
import type { QnbEvent } from '../../src/core/events.js';
import { createBackupManager } from '../../src/core/manager.js';
import type { SetManifest } from '../../src/core/manifest.js';
import { pruneRemote } from '../../src/core/remote-prune.js';
import { scanRemote } from '../../src/core/remote-scan.js';
import { createRepository } from '../../src/core/repository.js';
import { restoreSet } from '../../src/core/restore-set.js';
import { createMemoryBackend, type MemoryBackend } from '../../src/storage/memory/memory-backend.js';
import type { Target, TargetContext } from '../../src/targets/target.js';
import { recordingTarget } from '../helpers/recording-target.js';
import { tempDir } from '../helpers/tmp.js';
import { syntheticRepository } from '../suites/copy-fixtures.js';

function context(events: QnbEvent[] = []): TargetContext {
  return { reporter: { emit: (e) => events.push(e) }, now: () => new Date('2026-12-01T00:00:00Z') };
}

/** `sets` backup sets copied to a memory destination; then the local backups folder is lost. */
async function copiedThenLost(t: Parameters<typeof tempDir>[0], sets: number) {
  const root = join(await tempDir(t), 'backups');
  const made = await syntheticRepository(root, { sets, bytes: 4096 });
  const dest = createMemoryBackend();
  assert.equal((await copySets(createRepository(root), dest, context())).ok, true);
  await rm(root, { recursive: true, force: true });
  const repository = createRepository(root);
  await repository.init();
  return { made, dest, repository };
}

const fileOf = (set: SetManifest, target: string) => set.artifacts.find((a) => a.target === target)!.file;

function restoreFrom(
  repository: ReturnType<typeof createRepository>,
  dest: MemoryBackend,
  events: QnbEvent[] = [],
) {
  const restored: string[] = [];
  const deps = {
    repository,
    ctx: context(events),
    targets: [recordingTarget('qdrant', restored), recordingTarget('neo4j', restored)],
  };
  return { restored, run: (opts: Parameters<typeof restoreSet>[1]) => restoreSet(deps, opts, dest) };
}

/** A manager on `root` whose targets' drills pass and record the files they were given. */
function drillingManager(t: { after(fn: () => unknown): void }, root: string) {
  const drilled: string[] = [];
  const drilling = (kind: 'qdrant' | 'neo4j') =>
    ({
      kind,
      restoreKinds: kind === 'qdrant' ? ['qdrant-collection'] : ['neo4j-dump'],
      recover: async () => undefined,
      drill: async (a: { file: string }) => {
        drilled.push(a.file);
        return {};
      },
      close: async () => {},
    }) as unknown as Target;
  const m = createBackupManager(
    { ...defaultConfig(), backupDir: root },
    { targets: [drilling('qdrant'), drilling('neo4j')] },
  );
  t.after(() => m.close());
  return { m, drilled };
}

test('restore SET --from: a set with a copy missing is refused, not restored in part', async (t) => {
  const { made, dest, repository } = await copiedThenLost(t, 1);
  const set = made[0]!;
  dest.objects.delete(fileOf(set, 'neo4j'));
  const { restored, run } = restoreFrom(repository, dest);
  await assert.rejects(
    run({ setId: set.id, yes: true }),
    (e: Error & { code?: string }) =>
      e.code === 'E_REFUSED' &&
      e.message.includes(`backup set ${set.id}`) &&
      e.message.includes(fileOf(set, 'neo4j')) &&
      /nothing was restored/.test(e.message),
  );
  assert.deepEqual(restored, []);
});

test('restore SET --from --force: the valid copies are restored, each missing one named in a warning', async (t) => {
  const { made, dest, repository } = await copiedThenLost(t, 1);
  const set = made[0]!;
  dest.objects.delete(fileOf(set, 'neo4j'));
  const events: QnbEvent[] = [];
  const { restored, run } = restoreFrom(repository, dest, events);
  const r = await run({ setId: set.id, yes: true, force: true });
  assert.deepEqual(restored, [fileOf(set, 'qdrant')]);
  assert.ok(
    events.some(
      (e) =>
        e.type === 'warning' && e.message.includes(fileOf(set, 'neo4j')) && /not restored/.test(e.message),
    ),
    JSON.stringify(events),
  );
  assert.equal(r.setId, set.id);
});

test('restore --latest --from passes over a newer set with a copy missing', async (t) => {
  const { made, dest, repository } = await copiedThenLost(t, 2);
  const [older, newer] = made as [SetManifest, SetManifest];
  // the newer set also held a second collection, whose copy is gone from the destination: its
  // Qdrant and Neo4j copies alone would still make it look complete
  const key = `sets/${newer.id}.json`;
  const manifest = JSON.parse(dest.objects.get(key)!.data.toString()) as SetManifest;
  const q = manifest.artifacts.find((a) => a.target === 'qdrant')!;
  manifest.artifacts.push({ ...q, name: 'chunks', file: q.file.replace('papers', 'chunks') });
  dest.objects.set(key, { ...dest.objects.get(key)!, data: Buffer.from(JSON.stringify(manifest)) });
  const { restored, run } = restoreFrom(repository, dest);
  const r = await run({ latest: true, yes: true });
  assert.equal(r.setId, older.id);
  assert.deepEqual(restored.sort(), [fileOf(older, 'neo4j'), fileOf(older, 'qdrant')].sort());
});

test('verify --deep --from fails a damaged copy and a missing one although the local files are intact', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 4096 })) as [SetManifest];
  const { m, drilled } = drillingManager(t, root);
  const dest = createMemoryBackend();
  assert.equal((await m.copy(dest)).ok, true);
  const deep = () => m.verify(undefined, { from: dest, deep: true });
  const clean = await deep();
  assert.equal(clean.ok, true, JSON.stringify(clean.items));
  assert.equal(drilled.length, 2);
  // one copy damaged (same size), the other deleted
  const q = dest.objects.get(fileOf(set, 'qdrant'))!;
  const damaged = Buffer.from(q.data);
  damaged[5] = (damaged[5] ?? 0) ^ 1;
  dest.objects.set(fileOf(set, 'qdrant'), { ...q, data: damaged });
  dest.objects.delete(fileOf(set, 'neo4j'));
  drilled.length = 0;
  const r = await deep();
  assert.equal(r.ok, false);
  assert.deepEqual(r.items.map((i) => [i.file, i.ok]).sort(), [
    [fileOf(set, 'neo4j'), false],
    [fileOf(set, 'qdrant'), false],
  ]);
  assert.deepEqual(drilled, [], 'no drill of a copy that failed its read-back');
});

test('copy sends again what a set already on the destination lacks, and keeps what it holds', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 4096 })) as [SetManifest];
  const repo = createRepository(root);
  const identity = await generateIdentity();
  const recipients = [await identityToRecipient(identity)];
  for (const encrypted of [false, true]) {
    const dest = createMemoryBackend();
    const opts = encrypted ? { recipients } : {};
    const suffix = encrypted ? '.age' : '';
    assert.equal((await copySets(repo, dest, context(), opts)).ok, true);
    const kept = dest.objects.get(`${fileOf(set, 'qdrant')}${suffix}`)!;
    dest.objects.delete(`${fileOf(set, 'neo4j')}${suffix}`);
    const before = await scanRemote(dest, 'mem');
    assert.equal(before.artifacts.filter((a) => a.valid).length, 1, 'the listing shows the gap');
    const events: QnbEvent[] = [];
    const again = await copySets(repo, dest, context(events), opts);
    assert.equal(again.ok, true);
    assert.equal(again.sets[0]?.action, 'copied', `encrypted: ${encrypted}`);
    assert.deepEqual(
      again.sets[0]?.artifacts.map((a) => [a.file, a.action]),
      [[fileOf(set, 'neo4j'), 'sent']],
    );
    assert.ok(events.some((e) => e.type === 'warning' && /lacks/.test(e.message)));
    const after = await scanRemote(dest, 'mem');
    assert.deepEqual(
      after.artifacts.map((a) => [a.artifact.file, a.valid]).sort(),
      [
        [fileOf(set, 'neo4j'), true],
        [fileOf(set, 'qdrant'), true],
      ],
      `encrypted: ${encrypted}`,
    );
    assert.equal(
      dest.objects.get(`${fileOf(set, 'qdrant')}${suffix}`),
      kept,
      'the copy that was there is kept',
    );
    // a third run finds nothing missing: the listing and the set's manifest, no copy read back
    const manifestReads: string[] = [];
    const counted = {
      ...dest,
      get: (key: string, o?: Parameters<typeof dest.get>[1]) => {
        manifestReads.push(key);
        return dest.get(key, o);
      },
    };
    const third = await copySets(repo, counted, context(), opts);
    assert.equal(third.sets[0]?.action, 'present');
    assert.deepEqual(manifestReads, [`sets/${set.id}.json`], `encrypted: ${encrypted}`);
  }
});

test('copy does not send again a copy the destination’s own retention pruned', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const made = await syntheticRepository(root, { sets: 3, bytes: 4096 });
  const repo = createRepository(root);
  const dest = createMemoryBackend();
  assert.equal((await copySets(repo, dest, context())).ok, true);
  const pruned = await pruneRemote(dest, 'mem', context(), { policy: { keepLast: 1 } });
  assert.ok(pruned.removed.length > 0, JSON.stringify(pruned));
  const objects = [...dest.objects.keys()].sort();
  const again = await copySets(repo, dest, context());
  assert.equal(again.ok, true);
  assert.deepEqual(
    again.sets.map((s) => s.action),
    made.map(() => 'present'),
  );
  assert.deepEqual([...dest.objects.keys()].sort(), objects, 'nothing sent');
});

test('copy replaces a copy of its own set cut short on the destination, plain or encrypted', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 200_000 })) as [SetManifest];
  const repo = createRepository(root);
  const recipients = [await identityToRecipient(await generateIdentity())];
  for (const encrypted of [false, true]) {
    const dest = createMemoryBackend();
    const opts = encrypted ? { recipients } : {};
    const key = `${fileOf(set, 'qdrant')}${encrypted ? '.age' : ''}`;
    assert.equal((await copySets(repo, dest, context(), opts)).ok, true);
    const whole = dest.objects.get(key)!;
    dest.objects.set(key, { ...whole, data: whole.data.subarray(0, whole.data.length - 100) });
    const again = await copySets(repo, dest, context(), opts);
    assert.equal(again.ok, true, JSON.stringify(again.sets));
    assert.deepEqual(
      again.sets[0]?.artifacts.map((a) => [a.file, a.action]),
      [[fileOf(set, 'qdrant'), 'sent']],
      `encrypted: ${encrypted}`,
    );
    const after = await scanRemote(dest, 'mem');
    assert.ok(
      after.artifacts.every((a) => a.valid),
      JSON.stringify(after.artifacts.map((a) => a.problem)),
    );
  }
});

test('restore SET --from: a copy missing on the destination does not count when the backups folder holds the same file', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 4096 })) as [SetManifest];
  const dest = createMemoryBackend();
  assert.equal((await copySets(createRepository(root), dest, context())).ok, true);
  dest.objects.delete(fileOf(set, 'neo4j'));
  const events: QnbEvent[] = [];
  const { restored, run } = restoreFrom(createRepository(root), dest, events);
  const r = await run({ setId: set.id, yes: true });
  assert.equal(r.ok, true, JSON.stringify(r.steps));
  assert.deepEqual(restored.sort(), [fileOf(set, 'neo4j'), fileOf(set, 'qdrant')].sort());
  assert.ok(!events.some((e) => e.type === 'warning'), JSON.stringify(events));
});

test('verify --deep --from on a machine without the files: each copy is read once, a damaged one fails its item', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 4096 })) as [SetManifest];
  const dest = createMemoryBackend();
  assert.equal((await copySets(createRepository(root), dest, context())).ok, true);
  await rm(root, { recursive: true, force: true });
  await createRepository(root).init();
  const q = dest.objects.get(fileOf(set, 'qdrant'))!;
  const damaged = Buffer.from(q.data);
  damaged[9] = (damaged[9] ?? 0) ^ 1;
  dest.objects.set(fileOf(set, 'qdrant'), { ...q, data: damaged });
  const reads: string[] = [];
  const counted = {
    ...dest,
    get: (key: string, o?: Parameters<typeof dest.get>[1]) => {
      if (!key.startsWith('sets/')) reads.push(key);
      return dest.get(key, o);
    },
  };
  const { m, drilled } = drillingManager(t, root);
  const r = await m.verify(undefined, { from: counted, deep: true });
  assert.equal(r.ok, false);
  assert.deepEqual(r.items.map((i) => [i.file, i.ok]).sort(), [
    [fileOf(set, 'neo4j'), true],
    [fileOf(set, 'qdrant'), false],
  ]);
  assert.match(r.items.find((i) => !i.ok)?.detail ?? '', /sha256/);
  assert.deepEqual(drilled, [fileOf(set, 'neo4j')]);
  assert.deepEqual(reads.sort(), [fileOf(set, 'neo4j'), fileOf(set, 'qdrant')].sort(), 'one read per copy');
});
