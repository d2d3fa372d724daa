/**
 * A copy destination whose set manifest cannot be trusted to describe its objects: a repair of an
 * encrypted set cut short before the manifest was rewritten (encrypting again makes other bytes of
 * the same size), and a manifest that is not valid JSON. `copy` must not call such a set present,
 * `verify --from` must fail it, and after the next copy a restore from the destination works.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { copySets } from '../../src/core/copy.js';
import { QnbError } from '../../src/core/errors.js';
import type { SetManifest } from '../../src/core/manifest.js';
import { scanRemote } from '../../src/core/remote-scan.js';
import { verifyRemote } from '../../src/core/remote-verify.js';
import { createRepository } from '../../src/core/repository.js';
import { restoreSet } from '../../src/core/restore-set.js';
import type { PutOptions } from '../../src/storage/backend.js';
import { createMemoryBackend, type MemoryBackend } from '../../src/storage/memory/memory-backend.js';
import type { TargetContext } from '../../src/targets/target.js';
import { recordingTarget } from '../helpers/recording-target.js';
import { tempDir } from '../helpers/tmp.js';
import { syntheticRepository } from '../suites/copy-fixtures.js';

function context(): TargetContext {
  return { reporter: { emit: () => {} }, now: () => new Date('2026-12-01T00:00:00Z') };
}

/** `dest` whose `put` fails (not retryable) when `fails(key, objectsPutSoFar)` says so. */
function failingPut(dest: MemoryBackend, fails: (key: string, objects: number) => boolean) {
  let objects = 0;
  return {
    ...dest,
    put: async (key: string, body: Readable, o: PutOptions) => {
      if (!key.startsWith('sets/')) objects++;
      if (fails(key, objects)) {
        body.destroy();
        throw new QnbError('E_REFUSED', `injected failure putting ${key}`);
      }
      return dest.put(key, body, o);
    },
  };
}

test('copy repairs an encrypted set whose repair was cut short before its manifest was rewritten', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const [set] = (await syntheticRepository(root, { sets: 1, bytes: 200_000 })) as [SetManifest];
  const repo = createRepository(root);
  const identity = await generateIdentity();
  const opts = { recipients: [await identityToRecipient(identity)] };
  const files = set.artifacts.map((a) => a.file).sort();
  const cuts = {
    'the second object': (key: string, n: number) => !key.startsWith('sets/') && n === 2,
    'the set manifest': (key: string, n: number) => key.startsWith('sets/') && n === 2,
  };
  for (const [cut, fails] of Object.entries(cuts)) {
    const dest = createMemoryBackend();
    assert.equal((await copySets(repo, dest, context(), opts)).ok, true);
    for (const f of files) {
      const o = dest.objects.get(`${f}.age`)!;
      dest.objects.set(`${f}.age`, { ...o, data: o.data.subarray(0, 1000) });
    }
    const cutShort = await copySets(repo, failingPut(dest, fails), context(), opts);
    assert.equal(cutShort.ok, false, cut);
    const between = await scanRemote(dest, 'mem');
    assert.ok(
      between.artifacts.some((a) => !a.valid),
      `${cut}: the set is not complete on the destination`,
    );

    const again = await copySets(repo, dest, context(), opts);
    assert.equal(again.ok, true, JSON.stringify(again.sets));
    assert.equal(again.sets[0]?.action, 'copied', `${cut}: repaired, not present`);
    const verified = await verifyRemote(dest, 'mem', undefined, context(), { identities: [identity] });
    assert.deepEqual(
      verified.items.map((i) => [i.file, i.ok, i.detail]).sort(),
      files.map((f) => [f, true, undefined]),
      cut,
    );

    // a machine without the backups folder restores the set from the destination
    const elsewhere = createRepository(join(await tempDir(t), 'backups'));
    await elsewhere.init();
    const restored: string[] = [];
    const deps = {
      repository: elsewhere,
      ctx: context(),
      targets: [recordingTarget('qdrant', restored), recordingTarget('neo4j', restored)],
      identities: [identity],
    };
    const r = await restoreSet(deps, { setId: set.id, yes: true }, dest);
    assert.equal(r.ok, true, `${cut}: ${JSON.stringify(r.steps)}`);
    assert.deepEqual(restored.sort(), files, cut);
  }
});

test('a set manifest on the destination that is not valid JSON: copy fails the set, verify --from names it', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const made = await syntheticRepository(root, { sets: 2, bytes: 4096 });
  const repo = createRepository(root);
  const dest = createMemoryBackend();
  assert.equal((await copySets(repo, dest, context())).ok, true);
  const key = (s: SetManifest) => `sets/${s.id}.json`;
  const breakManifest = (s: SetManifest) => {
    const o = dest.objects.get(key(s))!;
    dest.objects.set(key(s), { ...o, data: Buffer.from('{') });
  };
  breakManifest(made[0]!);

  const copied = await copySets(repo, dest, context());
  assert.equal(copied.ok, false, 'a copy that cannot vouch for a set is not ok (nothing is pruned locally)');
  const failed = copied.sets.find((s) => s.id === made[0]!.id)!;
  assert.equal(failed.action, 'failed');
  assert.match(failed.error?.message ?? '', new RegExp(`${key(made[0]!)}.*not valid JSON`));
  assert.equal(copied.sets.find((s) => s.id === made[1]!.id)?.action, 'present');

  const verified = await verifyRemote(dest, 'mem', undefined, context());
  assert.equal(verified.ok, false);
  const bad = verified.items.filter((i) => !i.ok);
  assert.deepEqual(
    bad.map((i) => i.file),
    [key(made[0]!)],
  );
  assert.match(bad[0]?.detail ?? '', /not valid JSON.*move it away.*qnb copy --to mem/);
  const one = await verifyRemote(dest, 'mem', made[0]!.id, context());
  assert.deepEqual(
    one.items.map((i) => [i.file, i.ok]),
    [[key(made[0]!), false]],
  );

  // every manifest bad: still a failure, not "no backups to verify"
  breakManifest(made[1]!);
  const none = await verifyRemote(dest, 'mem', undefined, context());
  assert.equal(none.ok, false);
  assert.deepEqual(none.items.map((i) => i.file).sort(), made.map(key).sort());

  // the fix the messages name: the manifest moved away, the next copy rebuilds it from the proven copies
  for (const s of made) dest.objects.delete(key(s));
  const repaired = await copySets(repo, dest, context());
  assert.equal(repaired.ok, true, JSON.stringify(repaired.sets));
  assert.equal(repaired.sentFiles, 0, 'the plain copies there are proven by sha256, not sent again');
  assert.equal((await verifyRemote(dest, 'mem', undefined, context())).ok, true);
});

/**
 * One set copied to a memory destination, then its first copy rotted there (one byte flipped;
 * the sha256 recorded at put time unchanged). Returns what a test needs to go on.
 */
async function copiedThenRotted(t: Parameters<typeof tempDir>[0]) {
  const root = join(await tempDir(t), 'backups');
  const [made] = await syntheticRepository(root, { sets: 1, bytes: 4096 });
  const repo = createRepository(root);
  const dest = createMemoryBackend();
  assert.equal((await copySets(repo, dest, context())).ok, true);
  const file = made!.artifacts[0]!.file;
  const good = dest.objects.get(file)!;
  const rotten = Buffer.from(good.data);
  rotten[10] = rotten[10]! ^ 0xff;
  dest.objects.set(file, { ...good, data: rotten });
  return { repo, dest, file, good, rotten };
}

test('a copy verify --from proved damaged is sent again, although the sha256 the destination recorded still matches', async (t) => {
  // bit rot on the storage: the bytes change, the sha256 recorded at put time does not
  const { repo, dest, file, rotten } = await copiedThenRotted(t);
  assert.equal((await copySets(repo, dest, context())).sets[0]?.action, 'present', 'unseen until read back');

  const verified = await verifyRemote(dest, 'mem', undefined, context());
  assert.equal(verified.ok, false);
  const scan = await scanRemote(dest, 'mem');
  assert.match(
    scan.artifacts.find((a) => a.artifact.file === file)?.problem ?? '',
    /failed verification: sha256/,
  );

  const again = await copySets(repo, dest, context());
  assert.equal(again.ok, true, JSON.stringify(again.sets));
  assert.equal(again.sentFiles, 1);
  assert.notDeepEqual(dest.objects.get(file)!.data, rotten);
  assert.equal((await verifyRemote(dest, 'mem', undefined, context())).ok, true);
  assert.ok((await scanRemote(dest, 'mem')).artifacts.every((a) => a.valid));
});

test('a failure verify --from recorded that no longer holds is cleared by the next verify --from', async (t) => {
  const { dest, file, good } = await copiedThenRotted(t);
  assert.equal((await verifyRemote(dest, 'mem', undefined, context())).ok, false);
  const invalid = (await scanRemote(dest, 'mem')).artifacts.find((a) => a.artifact.file === file)!;
  assert.equal(invalid.valid, false);
  // the copy put right on the destination (a restored disk, a transient fault): read again, cleared
  dest.objects.set(file, good);
  const again = await verifyRemote(dest, 'mem', undefined, context());
  assert.equal(again.ok, true, JSON.stringify(again.items));
  assert.ok((await scanRemote(dest, 'mem')).artifacts.every((a) => a.valid));
});
