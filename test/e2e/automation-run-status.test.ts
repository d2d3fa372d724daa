/**
 * `qnb run -- CMD`, the one lock for every kind of run, retention and pre-command backups,
 * `qnb status`, and the monitoring hooks — through the real CLI against the Qdrant test server.
 */
import assert from 'node:assert/strict';
import { access, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQnbWorld, errorLines, type QnbWorld } from '../helpers/qnb-world.js';
import { follow, readSets, startReceiver, until } from './automation-helpers.js';

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Starts a backup-all whose download is slow and waits until it holds the lock and downloads. */
async function startSlowBackup(t: Parameters<typeof follow>[0], world: QnbWorld) {
  world.server.setSnapshotPadding('papers', 8 * 1024 * 1024);
  world.server.inject({
    op: 'download-snapshot',
    fault: { kind: 'slow', delayMs: 100 },
    times: Number.POSITIVE_INFINITY,
  });
  const proc = follow(t, world.start(['backup-all', '--skip-neo4j']));
  await until(
    async () =>
      (await readdir(join(world.backupDir, 'qdrant')).catch(() => [])).some((n) => n.startsWith('.qnb-tmp-')),
    'the slow download',
  );
  return proc;
}

describe('qnb run', () => {
  test('backs up (pre-command set), then runs the command and passes its exit code through', async (t) => {
    const world = await createQnbWorld(t);
    const run = await world.qnb(['run', '--skip-neo4j', '--', 'sh', '-c', 'echo "from the command"; exit 7']);
    assert.equal(run.code, 7, run.stderr);
    assert.equal(run.stdout, 'from the command\n', "qnb's own output goes to stderr");
    assert.match(run.stderr, /=== Backup Results ===/);
    assert.match(run.stderr, /• backup set \S+ ok — running sh/);
    const sets = await readSets(world.backupDir);
    assert.equal(sets.length, 1);
    assert.equal(sets[0]!.reason, 'pre-command');
    assert.equal(sets[0]!.command, 'run: sh');
    assert.equal(sets[0]!.status, 'ok');
    assert.equal((await world.listed()).filter((b) => b.valid).length, 2);
    const ok = await world.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(ok.code, 0);
    const missing = await world.qnb(['run', '--skip-neo4j', '--', 'no-such-command-qnb']);
    assert.equal(missing.code, 127);
    assert.match(missing.stderr, /^✘ run: no-such-command-qnb: command not found$/m);
  });

  test('a failed backup: the command is NOT run, one line says why, exit non-zero', async (t) => {
    const world = await createQnbWorld(t);
    world.server.inject({
      op: 'create-snapshot',
      fault: { kind: 'status', status: 500 },
      times: Number.POSITIVE_INFINITY,
    });
    const marker = join(world.cwd, 'command-ran');
    const run = await world.qnb(['run', '--skip-neo4j', '--', 'touch', marker]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(await exists(marker), false, 'the risky command did not run');
    assert.equal(errorLines(run).length, 1);
    assert.match(
      errorLines(run)[0]!,
      /^✘ backup set \S+ is failed: qdrant \((chunks|papers)\): .+ — not running touch$/,
    );
    // partial (one collection failed) is not good enough either
    world.server.clearFaults();
    world.server.inject({
      op: 'create-snapshot',
      collection: 'papers',
      fault: { kind: 'status', status: 500 },
    });
    const partial = await world.qnb(['run', '--skip-neo4j', '--', 'touch', marker]);
    assert.equal(partial.code, 3);
    assert.equal(await exists(marker), false);
    assert.match(partial.stderr, /is partial: qdrant \(papers\)/);
  });

  test('a second run during a backup exits with the locked code naming the holder; the command does not run', async (t) => {
    const world = await createQnbWorld(t);
    const slow = await startSlowBackup(t, world);
    const marker = join(world.cwd, 'command-ran');
    const run = await world.qnb(['run', '--skip-neo4j', '--', 'touch', marker]);
    assert.equal(run.code, 5, run.stderr);
    assert.match(run.stderr, new RegExp(`locked by backup-all \\(PID ${slow.child.pid} on `));
    assert.equal(await exists(marker), false);
    const sched = follow(t, world.start(['schedule', '--cron', '* * * * * *', '--skip-neo4j']));
    await sched.waitFor(/run 1: skipped — backups folder is locked by backup-all/);
    await sched.stop('SIGTERM');
    world.server.clearFaults();
    const first = await slow.stop('SIGINT');
    assert.equal(first.code, 130);
    const after = await world.qnb(['run', '--skip-neo4j', '--', 'touch', marker]);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(await exists(marker), true);
  });

  test('retention never removes the pre-command backup while it is the newest of its kind', async (t) => {
    const world = await createQnbWorld(t);
    const pre = await world.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(pre.code, 0, pre.stderr);
    const preFiles = (await readSets(world.backupDir))[0]!.artifacts.map((a) => a.file);
    for (let i = 0; i < 3; i++) {
      const r = await world.qnb(['backup-all', '--skip-neo4j', '--keep-last', '1']);
      assert.equal(r.code, 0, r.stderr);
      await sleep(1100); // distinct file names (one per second)
    }
    let valid = (await world.listed()).filter((b) => b.valid).map((b) => b.file);
    for (const f of preFiles) assert.ok(valid.includes(f), `${f} kept`);
    assert.equal(valid.length, 4, 'newest regular backup of each collection + the pre-command ones');
    // a newer pre-command backup takes over: the older one may go now
    const pre2 = await world.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(pre2.code, 0);
    const r = await world.qnb(['backup-all', '--skip-neo4j', '--keep-last', '1']);
    assert.equal(r.code, 0);
    valid = (await world.listed()).filter((b) => b.valid).map((b) => b.file);
    for (const f of preFiles)
      assert.ok(!valid.includes(f), `${f} pruned once a newer pre-command backup exists`);
    assert.equal(valid.length, 4);
  });
});

describe('qnb status', () => {
  test('fresh → 0; --max-age 1s after waiting → 6 naming the stale targets; --json', async (t) => {
    const world = await createQnbWorld(t);
    const none = await world.qnb(['status']);
    assert.equal(none.code, 6);
    assert.match(none.stdout, /no backups yet/);
    const backup = await world.qnb(['backup-all', '--skip-neo4j']);
    assert.equal(backup.code, 0, backup.stderr + backup.stdout);
    const fresh = await world.qnb(['status']);
    assert.equal(fresh.code, 0, fresh.stdout);
    assert.match(
      fresh.stdout,
      /✅ Qdrant \(chunks\)\n {3}Last good backup: .+ ago\)\n {3}File: chunks-backup-/,
    );
    assert.match(fresh.stdout, /Healthy: all 2 target\(s\)/);
    await sleep(1500);
    const stale = await world.qnb(['status', '--max-age', '1s']);
    assert.equal(stale.code, 6);
    assert.match(stale.stdout, /^✘ Qdrant \(papers\): stale — last good backup .+ ago .+, max age 1\.0 s$/m);
    assert.match(stale.stdout, /^✘ Qdrant \(chunks\): stale/m);
    const json = await world.qnb(['status', '--json'], { QNB_MAX_AGE: '1s' });
    assert.equal(json.code, 6);
    const body = JSON.parse(json.stdout);
    assert.equal(body.ok, false);
    assert.deepEqual(
      body.targets.map(
        (x: { name: string; problems: { code: string }[] }) => `${x.name}:${x.problems[0]?.code}`,
      ),
      ['chunks:stale', 'papers:stale'],
    );
    assert.equal(body.targets[0].lastGood.counts.points, 20);
  });

  test('a sharp size drop (big, then tiny collection under the same name) → 6 naming it', async (t) => {
    const world = await createQnbWorld(t);
    const seed = async (n: number) => {
      await world.client.deleteCollection('docs').catch(() => {});
      await world.client.createCollection('docs', { vectors: { size: 16, distance: 'Cosine' } });
      const points = Array.from({ length: n }, (_, i) => ({
        id: i + 1,
        vector: Array.from({ length: 16 }, (_, j) => ((i * 31 + j * 7) % 100) / 100 + 0.01),
        payload: { text: `document ${i} `.repeat(20) },
      }));
      for (let i = 0; i < points.length; i += 200)
        await world.client.upsert('docs', { wait: true, points: points.slice(i, i + 200) });
    };
    await seed(1000);
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 0);
    assert.equal((await world.qnb(['status'])).code, 0);
    await seed(3);
    await sleep(1100);
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 0);
    const run = await world.qnb(['status']);
    assert.equal(run.code, 6, run.stdout);
    assert.match(
      run.stdout,
      /^✘ Qdrant \(docs\): size dropped sharply: .+ vs a median of .+ over the previous 1 backup\(s\)$/m,
    );
    assert.match(run.stdout, /^✘ Qdrant \(docs\): points dropped sharply: 3 vs a median of 1000/m);
    assert.doesNotMatch(run.stdout, /✘ Qdrant \((papers|chunks)\)/);
    assert.match(run.stdout, /Unhealthy: 1 of 3 target\(s\)/);
  });

  test('a failed last run → 6 naming the target; the next good run clears it', async (t) => {
    const world = await createQnbWorld(t);
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 0);
    world.server.inject({
      op: 'create-snapshot',
      collection: 'papers',
      fault: { kind: 'status', status: 500 },
    });
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 3);
    const run = await world.qnb(['status']);
    assert.equal(run.code, 6);
    assert.match(run.stdout, /^✘ Qdrant \(papers\): last run failed \(set \S+\): .+$/m);
    assert.doesNotMatch(run.stdout, /✘ Qdrant \(chunks\)/);
    assert.equal((await world.qnb(['backup-all', '--skip-neo4j'])).code, 0);
    assert.equal((await world.qnb(['status'])).code, 0);
  });
});

describe('monitoring hooks', () => {
  test('run: /start then success ping, webhook JSON, Prometheus textfile; a failed run pings /fail', async (t) => {
    const rx = await startReceiver(t);
    const world = await createQnbWorld(t, {
      env: {
        QNB_PING_URL: `${rx.url}/ping/2f9a-secret-uuid`,
        QNB_WEBHOOK_URL: `${rx.url}/hook/T000-secret`,
        QNB_PROMETHEUS_FILE: 'metrics/qnb.prom',
      },
    });
    const run = await world.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(
      rx.hits.map((h) => `${h.method} ${h.path}`),
      ['GET /ping/2f9a-secret-uuid/start', 'GET /ping/2f9a-secret-uuid', 'POST /hook/T000-secret'],
    );
    const body = JSON.parse(rx.hits[2]!.body);
    assert.equal(body.event, 'backup');
    assert.equal(body.status, 'ok');
    assert.equal(body.command, 'run: true');
    assert.match(body.setId, /^\d{8}-\d{6}-[0-9a-f]{4}$/);
    assert.deepEqual(body.artifacts.map((a: { name: string }) => a.name).sort(), ['chunks', 'papers']);
    assert.deepEqual(body.errors, []);
    assert.equal(typeof body.durationMs, 'number');
    const prom = await readFile(join(world.cwd, 'metrics', 'qnb.prom'), 'utf8');
    assert.match(prom, /^qnb_last_success_timestamp_seconds\{target="qdrant",name="papers"\} \d+(\.\d+)?$/m);
    assert.match(prom, /^qnb_last_points\{target="qdrant",name="chunks"\} 20$/m);
    assert.match(prom, /^qnb_last_bytes\{target="qdrant",name="papers"\} \d+$/m);
    assert.match(prom, /^qnb_last_duration_seconds\{target="qdrant",name="papers"\} [\d.]+$/m);
    assert.match(prom, /^qnb_last_run_success 1$/m);

    rx.hits.length = 0;
    world.server.inject({
      op: 'create-snapshot',
      fault: { kind: 'status', status: 500 },
      times: Number.POSITIVE_INFINITY,
    });
    const failed = await world.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(failed.code, 1);
    assert.deepEqual(
      rx.hits.map((h) => `${h.method} ${h.path}`),
      ['GET /ping/2f9a-secret-uuid/start', 'POST /ping/2f9a-secret-uuid/fail', 'POST /hook/T000-secret'],
    );
    assert.equal(JSON.parse(rx.hits[2]!.body).status, 'failed');
    assert.match(await readFile(join(world.cwd, 'metrics', 'qnb.prom'), 'utf8'), /^qnb_last_run_success 0$/m);
    for (const r of [run, failed])
      assert.ok(!(r.stdout + r.stderr).includes('secret'), 'URLs with tokens are never shown');
  });

  test('schedule and watch call the hooks too; an unreachable ping URL is a warning, not a failure', async (t) => {
    const rx = await startReceiver(t);
    const world = await createQnbWorld(t, { env: { QNB_PING_URL: `${rx.url}/hc` } });
    const sched = follow(t, world.start(['schedule', '--cron', '* * * * * *', '--skip-neo4j']));
    await sched.waitFor(/run 1: ok/);
    await sched.stop('SIGTERM');
    assert.deepEqual(
      rx.hits.slice(0, 2).map((h) => h.path),
      ['/hc/start', '/hc'],
    );
    rx.hits.length = 0;
    await writeFile(join(world.cwd, 'zotero.sqlite'), 'v1');
    const watch = follow(t, world.start(['watch', 'zotero.sqlite', '--debounce', '200ms', '--skip-neo4j']));
    await watch.waitFor(/watching /);
    await writeFile(join(world.cwd, 'zotero.sqlite'), 'v2');
    await watch.waitFor(/backup 1: ok/);
    await watch.stop('SIGTERM');
    assert.deepEqual(
      rx.hits.map((h) => h.path),
      ['/hc/start', '/hc'],
    );

    const closed = await startReceiver(t);
    await closed.close();
    const dead = await createQnbWorld(t, { env: { QNB_PING_URL: `${closed.url}/hc/secret-token` } });
    const run = await dead.qnb(['run', '--skip-neo4j', '--', 'true']);
    assert.equal(run.code, 0, run.stderr);
    assert.ok(
      run.stderr.includes(`⚠ ping ${closed.url}/…/start failed (ECONNREFUSED); the backup is not affected`),
      run.stderr,
    );
    assert.ok(!run.stderr.includes('secret-token'));
  });
});
