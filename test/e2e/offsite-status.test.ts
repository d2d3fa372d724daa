/**
 * The 3-2-1 view of `qnb status --remote TARGET` through the real qnb binary, against a folder
 * and a real S3 server: each set local, remote or both; exit 6 when nothing is off-site yet, when
 * copies fall behind, or when the newest copy lacks a file; QNB_COPY_TO as the default target,
 * --no-remote to leave it out; an unreachable target is one clear line.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { OffsiteReport } from '../../src/core/offsite-status.js';
import { dirTarget, useS3 } from '../helpers/copy-targets.js';
import { createQnbWorld, errorLines, hasStackTrace } from '../helpers/qnb-world.js';
import { readSets } from './automation-helpers.js';

const S3 = useS3();

interface StatusJson {
  ok: boolean;
  healthy: boolean;
  targets: { name: string; healthy: boolean }[];
  offsite?: OffsiteReport;
}

for (const kind of ['dir', 's3'] as const) {
  describe(`status --remote ${kind}`, { skip: kind === 's3' ? S3.skip : false, timeout: 300_000 }, () => {
    test('local → both → pruned locally (remote only) → a new local set; exit 6 only when the copies fall behind', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = kind === 'dir' ? await dirTarget(world) : await S3.target();
      const qnb = (args: string[], env: Record<string, string> = {}) =>
        world.qnb(args, { ...target.env, ...env });
      const status = async (extra: string[] = [], env: Record<string, string> = {}) => {
        const r = await qnb(['status', '--remote', target.arg, '--json', ...extra], env);
        return { code: r.code, body: JSON.parse(r.stdout) as StatusJson };
      };
      assert.equal((await qnb(['backup-all', '--skip-neo4j'])).code, 0);
      const [a] = await readSets(world.backupDir);

      const before = await qnb(['status', '--remote', target.arg]);
      assert.equal(before.code, 6, before.stdout + before.stderr);
      assert.match(before.stdout, /Healthy: all 2 target\(s\)/, 'the local part is fine');
      assert.match(before.stdout, /^=== Off-site copies on \S+ ===$/m);
      assert.match(
        before.stdout,
        new RegExp(`^  ${a!.id}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  local — not on the target$`, 'm'),
      );
      assert.match(before.stdout, /^✘ off-site: no backup set on \S+ yet — run `qnb copy --to \S+`$/m);
      assert.match(
        before.stdout,
        /^Off-site unhealthy: 0 in both places, 1 local only, 0 only on the target\.$/m,
      );

      assert.equal((await qnb(['copy', '--to', target.arg])).code, 0);
      const copied = await qnb(['status', '--remote', target.arg]);
      assert.equal(copied.code, 0, copied.stdout);
      assert.match(copied.stdout, new RegExp(`^  ${a!.id}  .{19}  both$`, 'm'));
      assert.match(
        copied.stdout,
        new RegExp(`^Newest local set: ${a!.id} \\(.+ ago\\) — on the target$`, 'm'),
      );
      assert.match(
        copied.stdout,
        /^Off-site healthy: 1 in both places, 0 local only, 0 only on the target\.$/m,
      );

      // a newer set, not copied yet; retention removes the older one from the backups folder
      await sleep(1100); // distinct file names (one per second)
      assert.equal((await qnb(['backup-all', '--skip-neo4j', '--keep-last', '1'])).code, 0);
      const b = (await readSets(world.backupDir)).at(-1)!;
      const fresh = await status();
      assert.equal(fresh.code, 0, 'a fresh set that is not copied yet is fine');
      assert.deepEqual(
        fresh.body.offsite!.sets.map((s) => [s.id, s.where]),
        [
          [b.id, 'local'],
          [a!.id, 'remote'],
        ],
      );
      assert.deepEqual(fresh.body.offsite!.counts, { local: 1, remote: 1, both: 0 });
      assert.deepEqual(
        fresh.body.offsite!.sets[1]!.artifacts.map((x) => [x.name, x.local, x.remote]).sort(),
        [
          ['chunks', false, true],
          ['papers', false, true],
        ],
      );
      assert.equal(fresh.body.ok, true);

      await sleep(1500);
      const late = await status(['--max-age', '1s']);
      assert.equal(late.code, 6);
      assert.equal(late.body.ok, false);
      assert.equal(late.body.offsite!.healthy, false);
      assert.deepEqual(
        late.body.offsite!.problems.map((p) => p.code),
        ['not-copied', 'stale'],
      );
      assert.match(late.body.offsite!.problems[0]!.message, new RegExp(`^newest local set ${b.id} \\(`));

      assert.equal((await qnb(['copy', '--to', target.arg])).code, 0);
      const caughtUp = await status();
      assert.equal(caughtUp.code, 0);
      assert.deepEqual(
        caughtUp.body.offsite!.sets.map((s) => s.where),
        ['both', 'remote'],
      );
      assert.deepEqual(caughtUp.body.offsite!.newestLocal, {
        id: b.id,
        ageMs: caughtUp.body.offsite!.newestLocal!.ageMs,
        where: 'both',
      });

      // QNB_COPY_TO is the default target; --no-remote leaves it out
      const byEnv = await world.qnb(['status'], { ...target.env, QNB_COPY_TO: target.arg });
      assert.equal(byEnv.code, 0, byEnv.stderr);
      assert.match(byEnv.stdout, /=== Off-site copies on /);
      const local = await world.qnb(['status', '--no-remote'], { ...target.env, QNB_COPY_TO: target.arg });
      assert.equal(local.code, 0);
      assert.doesNotMatch(local.stdout, /Off-site/);
      for (const r of [before, copied, byEnv])
        assert.ok(!(r.stdout + r.stderr).includes(target.env.AWS_SECRET_ACCESS_KEY ?? '\u0000'));

      if (kind === 'dir') {
        // a file of the newest set lost on the target while its manifest says it is there:
        // status names it, and the next copy sends it again
        const lost = b.artifacts.find((x) => x.name === 'papers')!.file;
        await rm(join(world.cwd, target.arg, lost));
        const damaged = await qnb(['status', '--remote', target.arg]);
        assert.equal(damaged.code, 6, damaged.stdout);
        assert.match(
          damaged.stdout,
          new RegExp(`^  ${b.id}  .{19}  both — not on the target: ${lost.replace(/\./g, '\\.')}$`, 'm'),
        );
        assert.match(
          damaged.stdout,
          new RegExp(
            `^✘ off-site: newest local set ${b.id} is on \\S+ without ${lost.replace(/\./g, '\\.')} — run`,
            'm',
          ),
        );
        const repaired = await qnb(['copy', '--to', target.arg]);
        assert.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
        assert.match(
          repaired.stderr,
          new RegExp(`set ${b.id} on \\S+ lacks ${lost.replace(/\./g, '\\.')}; sending again`),
        );
        const healthy = await qnb(['status', '--remote', target.arg]);
        assert.equal(healthy.code, 0, healthy.stdout);
      }
    });
  });
}

describe('status --remote: an unusable target is one clear line', { timeout: 300_000 }, () => {
  test('a missing folder, an unknown scheme', async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 0);
    const missing = await world.qnb(['status', '--remote', '/nonexistent/usb']);
    assert.equal(missing.code, 1);
    assert.deepEqual(errorLines(missing), [
      '✘ copy target /nonexistent/usb: folder does not exist — create it (mkdir) or mount the drive; qnb never creates the target folder itself',
    ]);
    const scheme = await world.qnb(['status'], { QNB_COPY_TO: 'ftp://host/x' });
    assert.equal(scheme.code, 2);
    assert.match(errorLines(scheme)[0]!, /^✘ ftp:\/\/ copy targets are not supported — /);
    for (const r of [missing, scheme]) assert.ok(!hasStackTrace(r));
  });

  test('S3: unreachable endpoint, wrong secret (never shown)', { skip: S3.skip }, async (t) => {
    const world = await createQnbWorld(t, { papers: 3, chunks: 3 });
    const target = await S3.target();
    const { freePort } = await import('../servers/s3/s3-server.js');
    const down = await world.qnb(['status', '--remote', target.arg], {
      ...target.env,
      QNB_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    });
    assert.equal(down.code, 1, down.stdout + down.stderr);
    assert.equal(errorLines(down).length, 1);
    assert.match(
      errorLines(down)[0]!,
      /cannot reach the server \(ECONNREFUSED\) — is the S3 server running\?/,
    );
    const secret = 'sk-wrong-0a1b2c3d4e5f';
    const wrong = await world.qnb(['status', '--remote', target.arg, '--json'], {
      ...target.env,
      AWS_SECRET_ACCESS_KEY: secret,
    });
    assert.equal(wrong.code, 1);
    assert.match(JSON.parse(wrong.stdout).error.message, /credentials rejected/);
    for (const r of [down, wrong]) {
      assert.ok(!hasStackTrace(r));
      assert.ok(!(r.stdout + r.stderr).includes(secret));
    }
  });
});
