/**
 * The 3-2-1 view of `qnb status --remote`: where each set is (local, remote, both, which files
 * where), which sets count, and the off-site health rules. Pure cases from hand-made scans, and
 * one through the real repository, the real copy and the memory backend.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { copySets } from '../../src/core/copy.js';
import { silentReporter } from '../../src/core/events.js';
import type { ArtifactRecord, SetManifest } from '../../src/core/manifest.js';
import { computeOffsite } from '../../src/core/offsite-status.js';
import { scanRemote } from '../../src/core/remote-scan.js';
import { createRepository, type RepoScan } from '../../src/core/repository.js';
import { createMemoryBackend } from '../../src/storage/memory/memory-backend.js';
import { tempDir } from '../helpers/tmp.js';
import { syntheticRepository } from '../suites/copy-fixtures.js';

const H = 3_600_000;
const NOW = new Date('2026-03-10T12:00:00Z');
const OPTS = { now: NOW, maxAgeMs: 26 * H, target: 's3://b/lab' };

/** One set as seen on one side: its id, age, and the files valid (or not) there. */
interface SideSpec {
  id: string;
  hoursAgo: number;
  files: string[];
  invalid?: string[];
  reason?: SetManifest['reason'];
  /** Files this side's retention pruned (the manifest's `pruned` list). */
  pruned?: string[];
}

/** A scan holding the given sets (newest artifacts first, as the repository returns them). */
function scanOf(specs: SideSpec[]): RepoScan {
  const sets: SetManifest[] = [];
  const artifacts: RepoScan['artifacts'] = [];
  for (const s of specs) {
    const at = new Date(NOW.getTime() - s.hoursAgo * H).toISOString();
    const records = [...s.files, ...(s.invalid ?? [])].map(
      (file): ArtifactRecord => ({
        target: file.startsWith('neo4j/') ? 'neo4j' : 'qdrant',
        kind: file.startsWith('neo4j/') ? 'neo4j-dump' : 'qdrant-collection',
        name: file.split('/')[1]!.split('-')[0]!,
        file,
        status: 'ok',
        bytes: 10,
        sha256: 'f'.repeat(64),
        serverChecksum: null,
        checksumSource: 'self',
        serverVersion: '1',
        counts: {},
        startedAt: at,
        finishedAt: at,
        durationMs: 1,
      }),
    );
    const set: SetManifest = {
      format: 'qnb-set',
      version: 1,
      id: s.id,
      command: 'backup-all',
      reason: s.reason ?? 'backup',
      status: 'ok',
      host: 'h',
      pid: 1,
      qnbVersion: '0',
      startedAt: at,
      finishedAt: at,
      artifacts: records,
      errors: [],
      ...(s.pruned ? { pruned: s.pruned.map((file) => ({ file, at })) } : {}),
    };
    sets.push(set);
    for (const artifact of records) {
      const valid = s.files.includes(artifact.file);
      artifacts.push({
        set,
        artifact,
        path: `/x/${artifact.file}`,
        createdAt: new Date(at),
        valid,
        ...(valid ? {} : { problem: 'missing' }),
      });
    }
  }
  artifacts.sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime());
  return { sets, artifacts, unknownFiles: [], badManifests: [] };
}

const P = (n: number) => `qdrant/papers-backup-${n}.snapshot`;
const N = (n: number) => `neo4j/neo4j-${n}.dump`;

test('placement: local, remote, both — newest first, with the files each side lacks', () => {
  const local = scanOf([
    { id: 's3', hoursAgo: 1, files: [P(3), N(3)] },
    { id: 's2', hoursAgo: 25, files: [P(2)] }, // N(2) pruned locally
    { id: 's4', hoursAgo: 0.5, files: [P(4)], invalid: [N(4)] },
  ]);
  const remote = scanOf([
    { id: 's2', hoursAgo: 25, files: [P(2), N(2)] },
    { id: 's1', hoursAgo: 49, files: [P(1), N(1)] },
    { id: 's3', hoursAgo: 1, files: [P(3), N(3)] },
  ]);
  const r = computeOffsite(local, remote, OPTS);
  assert.deepEqual(
    r.sets.map((s) => `${s.id}:${s.where}`),
    ['s4:local', 's3:both', 's2:both', 's1:remote'],
  );
  const s2 = r.sets[2]!;
  assert.deepEqual(s2.missingLocal, [N(2)]);
  assert.deepEqual(s2.missingRemote, []);
  assert.deepEqual(
    s2.artifacts.map((a) => `${a.file}:${a.local}:${a.remote}`),
    [`${N(2)}:false:true`, `${P(2)}:true:true`],
  );
  assert.deepEqual(
    r.sets[0]!.artifacts.map((a) => a.file),
    [P(4)],
    'an invalid local file is not a backup anywhere',
  );
  assert.deepEqual(r.counts, { local: 1, remote: 1, both: 2 });
  assert.deepEqual(r.newestLocal, { id: 's4', ageMs: 0.5 * H, where: 'local' });
  assert.deepEqual(r.newestRemote, { id: 's3', ageMs: 1 * H });
  assert.equal(r.healthy, true, 'a fresh set not copied yet is fine');
  assert.deepEqual(r.problems, []);
});

test('a set with no valid file on either side, and safety sets, are not listed', () => {
  const local = scanOf([
    { id: 'failed', hoursAgo: 2, files: [], invalid: [P(9)] },
    { id: 'safety', hoursAgo: 3, files: [P(8)], reason: 'pre-restore' },
    { id: 'pre', hoursAgo: 4, files: [P(7)], reason: 'pre-command' },
  ]);
  const remote = scanOf([{ id: 'pre', hoursAgo: 4, files: [P(7)], reason: 'pre-command' }]);
  const r = computeOffsite(local, remote, OPTS);
  assert.deepEqual(
    r.sets.map((s) => `${s.id}:${s.where}:${s.reason}`),
    ['pre:both:pre-command'],
  );
  assert.equal(r.healthy, true);
});

test('not-copied: the newest local set is older than max age and not on the target; stale copies', () => {
  const local = scanOf([
    { id: 'new', hoursAgo: 30, files: [P(2)] },
    { id: 'old', hoursAgo: 54, files: [P(1)] },
  ]);
  const remote = scanOf([{ id: 'old', hoursAgo: 54, files: [P(1)] }]);
  const r = computeOffsite(local, remote, OPTS);
  assert.equal(r.healthy, false);
  assert.deepEqual(
    r.problems.map((p) => p.code),
    ['not-copied', 'stale'],
  );
  assert.match(
    r.problems[0]!.message,
    /^newest local set new \(30 h 00 min ago \(.+\)\) is not on s3:\/\/b\/lab, max age 26 h 00 min — run `qnb copy --to s3:\/\/b\/lab`$/,
  );
  assert.match(r.problems[1]!.message, /^stale — newest set on s3:\/\/b\/lab is old from 54 h 00 min ago/);

  // copied since: healthy again once the copy is fresh, whatever the local age
  const copied = computeOffsite(
    local,
    scanOf([
      { id: 'new', hoursAgo: 30, files: [P(2)] },
      { id: 'old', hoursAgo: 54, files: [P(1)] },
    ]),
    { ...OPTS, maxAgeMs: 31 * H },
  );
  assert.equal(copied.healthy, true);
});

test('never: nothing on the target; incomplete: the newest set lacks a file there', () => {
  const local = scanOf([{ id: 'a', hoursAgo: 1, files: [P(1), N(1)] }]);
  const none = computeOffsite(local, scanOf([]), OPTS);
  assert.deepEqual(
    none.problems.map((p) => p.code),
    ['never'],
  );
  assert.match(none.problems[0]!.message, /^no backup set on s3:\/\/b\/lab yet — run `qnb copy --to/);
  const part = computeOffsite(
    local,
    scanOf([{ id: 'a', hoursAgo: 1, files: [P(1)], invalid: [N(1)] }]),
    OPTS,
  );
  assert.deepEqual(
    part.problems.map((p) => p.code),
    ['incomplete'],
  );
  assert.equal(
    part.problems[0]!.message,
    `newest local set a is on s3://b/lab without ${N(1)} — run \`qnb copy --to s3://b/lab\` (it sends them again)`,
  );
  const empty = computeOffsite(scanOf([]), scanOf([]), OPTS);
  assert.deepEqual(empty.sets, []);
  assert.deepEqual(
    empty.problems.map((p) => p.code),
    ['never'],
  );
});

test('through the real copy: copied sets are `both`, sets pruned locally are `remote`', async (t) => {
  const root = join(await tempDir(t), 'backups');
  const sets = await syntheticRepository(root, { sets: 3, bytes: 1024 });
  const repo = createRepository(root);
  const target = createMemoryBackend('memory://offsite-unit');
  const ctx = { reporter: silentReporter, now: () => new Date() };
  const copy = await copySets(repo, target, ctx, { sets: [sets[0]!.id, sets[1]!.id] });
  assert.equal(copy.ok, true);
  // the oldest set's files leave the backups folder (as retention would, manifest entries too)
  await rm(join(root, 'sets', `${sets[0]!.id}.json`));
  const remote = await scanRemote(target, 'memory://offsite-unit');
  const r = computeOffsite(await repo.scan(), remote, { ...OPTS, now: new Date('2026-11-04T02:00:00Z') });
  assert.deepEqual(
    r.sets.map((s) => s.where),
    ['local', 'both', 'remote'],
  );
  assert.deepEqual(
    r.sets.map((s) => s.id),
    [sets[2]!.id, sets[1]!.id, sets[0]!.id],
  );
  assert.equal(r.sets[1]!.artifacts.length, 2);
  assert.ok(r.sets[1]!.artifacts.every((a) => a.local && a.remote));
  assert.equal(r.newestLocal?.where, 'local');
});

test('incomplete: an older set that lacks a file counts too; a file the destination pruned does not', () => {
  const local = scanOf([
    { id: 'new', hoursAgo: 1, files: [P(2), N(2)] },
    { id: 'old', hoursAgo: 25, files: [P(1), N(1)] },
  ]);
  const lost = computeOffsite(
    local,
    scanOf([
      { id: 'new', hoursAgo: 1, files: [P(2), N(2)] },
      { id: 'old', hoursAgo: 25, files: [P(1)], invalid: [N(1)] },
    ]),
    OPTS,
  );
  assert.equal(lost.healthy, false);
  assert.deepEqual(
    lost.problems.map((p) => p.message),
    [`set old is on s3://b/lab without ${N(1)} — run \`qnb copy --to s3://b/lab\` (it sends them again)`],
  );
  const pruned = computeOffsite(
    local,
    scanOf([
      { id: 'new', hoursAgo: 1, files: [P(2), N(2)] },
      { id: 'old', hoursAgo: 25, files: [P(1)], pruned: [N(1)] },
    ]),
    OPTS,
  );
  assert.equal(pruned.healthy, true, JSON.stringify(pruned.problems));
  assert.deepEqual(pruned.sets.find((x) => x.id === 'old')?.missingRemote, []);
  // its manifest on the destination, none of its copies: every file is missing there
  const gone = computeOffsite(
    local,
    scanOf([
      { id: 'new', hoursAgo: 1, files: [P(2), N(2)] },
      { id: 'old', hoursAgo: 25, files: [], invalid: [P(1), N(1)] },
    ]),
    OPTS,
  );
  assert.deepEqual(
    gone.problems.map((p) => p.message),
    [
      `set old is on s3://b/lab without ${N(1)}, ${P(1)} — run \`qnb copy --to s3://b/lab\` (it sends them again)`,
    ],
  );
  // the newest set so, and older than the limit: incomplete, not also "not on the target"
  const newestGone = computeOffsite(
    scanOf([{ id: 'only', hoursAgo: 30, files: [P(1)] }]),
    scanOf([
      { id: 'prev', hoursAgo: 20, files: [P(0)] },
      { id: 'only', hoursAgo: 30, files: [], invalid: [P(1)] },
    ]),
    OPTS,
  );
  assert.deepEqual(
    newestGone.problems.map((p) => p.code),
    ['incomplete'],
  );
});
