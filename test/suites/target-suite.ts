/**
 * The Target conformance suite (as copy-backend-suite.ts is for storage): every database target
 * runs it against a real server — Qdrant on the project's test server, Neo4j on a real local
 * install. It drives the target only through the Target contract (src/targets/target.ts), with a
 * real repository and set lifecycle, and checks what the contract promises:
 *
 * - backup; a single restore refuses to overwrite without `yes` and touches nothing; wreck →
 *   set restore (plan, safety backup, restore) → the data is exactly back;
 * - a failure (the sink's commit fails) leaves nothing valid and no temp file, the server up;
 * - an abort mid-backup (AbortSignal) rejects as an interruption, leaves nothing valid, server up;
 * - doctor on a down server: failed checks with what to do, never a throw; probe rejects.
 *
 * `QNB_TEST_TARGETS=neo4j` (comma-separated kinds) narrows a run to those targets.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { isAbort, QnbError } from '../../src/core/errors.js';
import type { QnbEvent } from '../../src/core/events.js';
import { TEMP_PREFIX } from '../../src/core/fs-safe.js';
import type { ArtifactRecord, TargetKind } from '../../src/core/manifest.js';
import { createRepository, type Repository } from '../../src/core/repository.js';
import { createSetSink, finishSet, startSet } from '../../src/core/set-lifecycle.js';
import type { ArtifactSink, BackupRequest, Target, TargetContext } from '../../src/targets/target.js';
import { tempDir } from '../helpers/tmp.js';

/** How a target is tested. The server is shared by the whole file; every test gets a fresh repository. */
export interface TargetHarness {
  kind: TargetKind;
  /** The target on the running server, with `repository` as its backups folder. */
  open(repository: Repository): Target;
  /** The same target pointed at a server that does not answer (a closed port). */
  openDown(repository: Repository): Target;
  /** Puts the reference data on the server (called before every test that needs it). */
  seed(): Promise<void>;
  /** What is on the server now, comparable with `assert.deepEqual`. */
  fingerprint(): Promise<unknown>;
  /** Changes the data (deletes some, adds some), so a restore has work to do. */
  wreck(): Promise<void>;
  /** True when the server serves again (e.g. a Neo4j stopped for a dump was started again). */
  serving(): Promise<boolean>;
  /** What `preflight` is asked for. @default {} */
  request?: BackupRequest;
  /** The event after which an abort lands in the middle of the backup. @default first transfer-start */
  abortOn?(e: QnbEvent): boolean;
}

const wanted = (kind: string) => {
  const only = process.env.QNB_TEST_TARGETS?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return !only?.length || only.includes(kind);
};

function contextFor(signal?: AbortSignal, onEvent?: (e: QnbEvent) => void): TargetContext {
  return { reporter: { emit: (e) => onEvent?.(e) }, signal, now: () => new Date() };
}

async function freshRepository(t: TestContext): Promise<Repository> {
  const repository = createRepository(join(await tempDir(t, 'qnb-target-suite-'), 'backups'));
  await repository.init();
  return repository;
}

/** Backs up every scope of the target into one set, the way the manager does. */
async function backupSet(
  repository: Repository,
  target: Target,
  ctx: TargetContext,
  request: BackupRequest,
  wrap: (sink: ArtifactSink) => ArtifactSink = (s) => s,
): Promise<ArtifactRecord[]> {
  const scopes = await target.preflight(request, ctx);
  assert.ok(scopes.length > 0, 'preflight found something to back up');
  const set = await startSet(repository, 'target-suite', ctx.now(), 'backup');
  const records: ArtifactRecord[] = [];
  try {
    for (const scope of scopes)
      records.push(await target.backup(scope, wrap(createSetSink(repository, set, ctx.now)), ctx));
  } catch (err) {
    await finishSet(repository, set, ctx.now(), isAbort(err, ctx.signal) ? 'interrupted' : 'failed');
    throw err;
  }
  await finishSet(repository, set, ctx.now());
  return records;
}

/** Valid artifacts of the repository, and temp files left anywhere below it. */
async function leftovers(repository: Repository): Promise<{ valid: string[]; temps: string[] }> {
  const scan = await repository.scan();
  const temps: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (e.name.startsWith(TEMP_PREFIX)) temps.push(join(dir, e.name));
      else if (e.isDirectory()) await walk(join(dir, e.name));
    }
  };
  await walk(repository.root);
  return { valid: scan.artifacts.filter((a) => a.valid).map((a) => a.artifact.file), temps };
}

/** Runs the suite for one target. */
export function targetSuite(name: string, h: TargetHarness, opts: { skip?: string | false } = {}): void {
  const skip = opts.skip || (wanted(h.kind) ? false : `QNB_TEST_TARGETS leaves ${h.kind} out`);
  const request = h.request ?? {};
  describe(`Target conformance: ${name}`, { skip, timeout: 40 * 60_000 }, () => {
    test('probe answers; backup; a restore without yes refuses; wreck → set restore brings the data back', async (t) => {
      const repository = await freshRepository(t);
      const target = h.open(repository);
      t.after(() => target.close());
      const ctx = contextFor();
      await h.seed();
      const before = await h.fingerprint();
      assert.match((await target.probe()).version, /^\d+\.\d+/);
      const records = await backupSet(repository, target, ctx, request);
      assert.ok(records.every((r) => r.status === 'ok' && r.target === h.kind));
      const scan = await repository.scan();
      assert.deepEqual(
        scan.artifacts
          .filter((a) => a.valid)
          .map((a) => a.artifact.file)
          .sort(),
        records.map((r) => r.file).sort(),
      );
      // a single restore refuses to overwrite without yes, and touches nothing
      await assert.rejects(
        target.restore(records[0]!, repository.resolve(records[0]!.file), {}, ctx),
        (err: unknown) => err instanceof QnbError && err.code === 'E_REFUSED' && !!err.hint,
      );
      assert.deepEqual(await h.fingerprint(), before);
      assert.equal((await repository.scan()).sets.length, 1, 'no safety set was started');
      await h.wreck();
      assert.notDeepEqual(await h.fingerprint(), before, 'the wreck changed the data');
      const plan = await target.planRestore(records, {}, ctx);
      assert.ok(plan.overwrites.length > 0, 'the plan says what would be overwritten');
      const safety = await startSet(repository, 'target-suite (safety)', ctx.now(), 'pre-restore');
      await target.safetyBackup(plan, createSetSink(repository, safety, ctx.now), ctx);
      // a target may take its safety backup within its restore, right before it overwrites
      // (Neo4j: the safety dump in the load's stop); it calls safetyTaken once it is in
      let takenAtRestore = 0;
      if (plan.safetyAtRestore)
        plan.safetyTaken = async () => {
          takenAtRestore++;
          assert.ok(safety.artifacts.length > 0, 'the safety backup is in before anything is overwritten');
          await finishSet(repository, safety, ctx.now());
        };
      else await finishSet(repository, safety, ctx.now());
      for (const r of records) {
        const out = await target.restore(r, repository.resolve(r.file), { plan }, ctx);
        assert.ok(out.report);
      }
      assert.equal(takenAtRestore, plan.safetyAtRestore ? 1 : 0);
      assert.equal(safety.status, 'ok');
      assert.ok(safety.artifacts.length > 0, 'the safety backup holds what was overwritten');
      assert.deepEqual(await h.fingerprint(), before);
    });

    test('a failure leaves nothing valid and no temp file; the server serves', async (t) => {
      const repository = await freshRepository(t);
      const target = h.open(repository);
      t.after(() => target.close());
      await h.seed();
      const failing = (sink: ArtifactSink): ArtifactSink => ({
        ...sink,
        commit: async () => {
          throw new QnbError('E_IO', 'disk went away while committing');
        },
      });
      await assert.rejects(backupSet(repository, target, contextFor(), request, failing), /disk went away/);
      assert.deepEqual(await leftovers(repository), { valid: [], temps: [] });
      assert.ok(await h.serving(), 'the server serves after the failure');
    });

    test('an abort mid-backup rejects as an interruption, leaves nothing valid; the server serves', async (t) => {
      const repository = await freshRepository(t);
      const target = h.open(repository);
      t.after(() => target.close());
      await h.seed();
      const controller = new AbortController();
      const abortOn = h.abortOn ?? ((e: QnbEvent) => e.type === 'transfer-start');
      const ctx = contextFor(controller.signal, (e) => {
        if (!controller.signal.aborted && abortOn(e)) controller.abort();
      });
      await assert.rejects(backupSet(repository, target, ctx, request), (err: unknown) =>
        isAbort(err, controller.signal),
      );
      assert.ok(controller.signal.aborted, 'the abort happened during the backup');
      assert.deepEqual(await leftovers(repository), { valid: [], temps: [] });
      assert.ok(await h.serving(), 'the server serves after the abort');
    });

    test('doctor on a down server: failed checks that say what to do, never a throw', async (t) => {
      const repository = await freshRepository(t);
      const target = h.openDown(repository);
      t.after(() => target.close());
      const checks = await target.doctorChecks(contextFor());
      const failed = checks.filter((c) => !c.ok);
      assert.ok(failed.length > 0, JSON.stringify(checks));
      for (const c of failed) {
        assert.equal(c.area, h.kind);
        assert.ok(c.detail.length > 0);
      }
      await assert.rejects(target.probe(), (err: unknown) => err instanceof QnbError);
    });
  });
}
