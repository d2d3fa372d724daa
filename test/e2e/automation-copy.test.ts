/**
 * `--copy-to TARGET` chained into automation through the real qnb binary: `run`, `schedule`,
 * `watch`, `install-cron` (the installed line really runs) and `backup-all` share one pipeline —
 * backup → copy every set the target lacks → retention only when both worked. A copy that fails
 * (a missing target folder) keeps every local backup, fails the run for the monitoring hooks, and
 * keeps `run` from starting its command. Bounded runs; no timing assertions.
 */
import assert from 'node:assert/strict';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirTarget, type Target, useS3 } from '../helpers/copy-targets.js';
import { createQnbWorld, errorLines, hasStackTrace, type QnbWorld } from '../helpers/qnb-world.js';
import { follow, readSets, runCronLine, startReceiver } from './automation-helpers.js';

const S3 = useS3();

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Files of the valid local backups. */
const validFiles = async (world: QnbWorld) =>
  (await world.listed()).filter((b) => b.valid).map((b) => b.file);

/** A first backup set (no copy); returns its id and files. */
async function firstSet(world: QnbWorld): Promise<{ id: string; files: string[] }> {
  const r = await world.qnb(['backup-all', '--skip-neo4j']);
  assert.equal(r.code, 0, r.stderr);
  const [set] = await readSets(world.backupDir);
  await sleep(1100); // the next backup gets other file names (one per second)
  return { id: set!.id, files: set!.artifacts.map((a) => a.file) };
}

const hasSet = async (target: Target, id: string) => (await target.keys()).includes(`sets/${id}.json`);

for (const kind of ['dir', 's3'] as const) {
  describe(`run --copy-to ${kind}`, { skip: kind === 's3' ? S3.skip : false, timeout: 300_000 }, () => {
    test('the set arrives on the target before the command runs', async (t) => {
      const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
      const target = kind === 'dir' ? await dirTarget(world) : await S3.target();
      const run = await world.qnb(
        ['run', '--skip-neo4j', '--copy-to', target.arg, '--', 'sh', '-c', 'echo from the command'],
        target.env,
      );
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout, 'from the command\n');
      assert.match(run.stderr, /=== Copy to .+ ===\n\n✅ \S+: copied 2 file\(s\)/);
      const [set] = await readSets(world.backupDir);
      assert.equal(set!.reason, 'pre-command');
      assert.ok(await hasSet(target, set!.id), 'the pre-command set is on the target');
      assert.ok(!(run.stdout + run.stderr).includes(target.env.AWS_SECRET_ACCESS_KEY ?? '\u0000'));
    });
  });
}

describe('a failed copy keeps every local backup and fails the run', { timeout: 300_000 }, () => {
  test('run --copy-to a missing folder: the command does not run; pings /fail, webhook copy-failed', async (t) => {
    const rx = await startReceiver(t);
    const world = await createQnbWorld(t, {
      papers: 5,
      chunks: 5,
      env: { QNB_PING_URL: `${rx.url}/hc/uuid-secret`, QNB_WEBHOOK_URL: `${rx.url}/hook/T-secret` },
    });
    const marker = join(world.cwd, 'command-ran');
    const run = await world.qnb(['run', '--skip-neo4j', '--copy-to', 'no-such-drive', '--', 'touch', marker]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(await exists(marker), false, 'the risky command did not run');
    assert.deepEqual(errorLines(run), [
      `✘ backup set ${(await readSets(world.backupDir))[0]!.id} is only local, its copy failed: copy target ${join(world.cwd, 'no-such-drive')}: folder does not exist — not running touch`,
    ]);
    assert.match(
      run.stderr,
      /❌ Copy to .*no-such-drive failed: .+ — create it \(mkdir\) or mount the drive/,
    );
    assert.ok(!hasStackTrace(run));
    assert.deepEqual(
      rx.hits.map((h) => `${h.method} ${h.path}`),
      ['GET /hc/uuid-secret/start', 'POST /hc/uuid-secret/fail', 'POST /hook/T-secret'],
    );
    const body = JSON.parse(rx.hits[2]!.body);
    assert.equal(body.ok, false);
    assert.equal(body.status, 'copy-failed');
    assert.equal(body.copy.ok, false);
    assert.equal(body.copy.error.code, 'E_NOT_FOUND');
    assert.match(body.text, /copy to .*no-such-drive FAILED: /);
    assert.ok(!(run.stdout + run.stderr).includes('secret'), 'hook URLs are never shown');
  });

  test('backup-all --copy-to a missing folder: exit 1, one line, retention does not prune', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    const first = await firstSet(world);
    const run = await world.qnb(['backup-all', '--skip-neo4j', '--copy-to', 'no-such-drive'], {
      QNB_KEEP_LAST: '1',
    });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    assert.equal(errorLines(run).length, 1);
    assert.match(errorLines(run)[0]!, /^✘ copy target \S+no-such-drive: folder does not exist — create it/);
    assert.match(run.stdout, /^Retention skipped: the copy to \S+no-such-drive failed$/m);
    const valid = await validFiles(world);
    for (const f of first.files) assert.ok(valid.includes(f), `${f} was not pruned`);
    assert.equal(valid.length, 4);
    const json = await world.qnb(['backup-all', '--skip-neo4j', '--copy-to', 'no-such-drive', '--json']);
    assert.equal(json.code, 1);
    const body = JSON.parse(json.stdout);
    assert.equal(body.ok, false);
    assert.equal(body.status, 'ok');
    assert.equal(body.copy.error.code, 'E_NOT_FOUND');
    assert.deepEqual(body.retention, { skipped: `the copy to ${join(world.cwd, 'no-such-drive')} failed` });
  });
});

describe('schedule and watch --copy-to', { timeout: 300_000 }, () => {
  test('schedule: a failing copy keeps the older set; a working one copies every set, then prunes', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5, env: { QNB_KEEP_LAST: '1' } });
    const first = await firstSet(world);
    const tick = ['schedule', '--cron', '* * * * * *', '--skip-neo4j'];
    const failing = follow(t, world.start([...tick, '--copy-to', 'no-such-drive']));
    await failing.waitFor(/run 1: ok — set \S+ in .+; copy to \S+no-such-drive FAILED — copy target /);
    await failing.stop('SIGTERM');
    assert.match(failing.output(), /Retention skipped: the copy to \S+no-such-drive failed/);
    let valid = await validFiles(world);
    for (const f of first.files) assert.ok(valid.includes(f), `${f} was not pruned`);

    const target = await dirTarget(world);
    const working = follow(t, world.start([...tick, '--copy-to', target.arg]));
    await working.waitFor(/qnb schedule: .+ --copy-to \S+usb-drive; next run/);
    await working.waitFor(/run 1: ok — set \S+ in .+; copied to \S+usb-drive \(\d+ file\(s\) sent\)/);
    await working.stop('SIGTERM');
    assert.match(working.output(), /Retention: removed \d+ old backup\(s\)/);
    const run1 = /run 1: ok — set (\S+) in /.exec(working.output())![1]!;
    assert.ok(await hasSet(target, run1), `the new set ${run1} was copied`);
    valid = await validFiles(world);
    for (const f of first.files) assert.ok(!valid.includes(f), `${f} pruned locally once it was off-site`);
    assert.ok(await hasSet(target, first.id));
  });

  test('watch: a change backs up and copies', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    const target = await dirTarget(world);
    await writeFile(join(world.cwd, 'zotero.sqlite'), 'v1');
    const watch = follow(
      t,
      world.start(['watch', 'zotero.sqlite', '--debounce', '200ms', '--skip-neo4j', '--copy-to', target.arg]),
    );
    await watch.waitFor(/watching /);
    await writeFile(join(world.cwd, 'zotero.sqlite'), 'v2');
    await watch.waitFor(/backup 1: ok — set \S+ in .+; copied to \S+usb-drive/);
    await watch.stop('SIGTERM');
    const [set] = await readSets(world.backupDir);
    assert.ok(await hasSet(target, set!.id));
  });
});

describe('install-cron --copy-to', { timeout: 300_000 }, () => {
  test('the line carries the target (a folder made absolute) and really copies; a bad target is exit 2', async (t) => {
    const world = await createQnbWorld(t, { papers: 5, chunks: 5 });
    const target = await dirTarget(world);
    await writeFile(
      join(world.cwd, 'qnb.config.json'),
      JSON.stringify({ qdrant: { url: world.server.url } }),
    );
    const printed = await world.qnb(
      ['install-cron', '--print', '--skip-neo4j', '--log', 'cron.log', '--copy-to', target.arg],
      { QDRANT_URL: undefined },
    );
    assert.equal(printed.code, 0, printed.stderr);
    const line = printed.stdout.trim();
    assert.match(
      line,
      new RegExp(` backup-all --config \\S+ --skip-neo4j --copy-to ${join(world.cwd, 'usb-drive')} >> `),
    );
    const code = await runCronLine(line, world.cwd);
    assert.equal(code, 0, await readFile(join(world.cwd, 'cron.log'), 'utf8'));
    const [set] = await readSets(world.backupDir);
    assert.ok(await hasSet(target, set!.id), 'the cron run copied its set');

    const systemd = await world.qnb(['install-cron', '--systemd', '--copy-to', 's3://bucket/lab']);
    assert.equal(systemd.code, 0, systemd.stderr);
    assert.match(
      systemd.stdout,
      /^ExecStart=\S+ \S+main\.js backup-all --config \S+ --copy-to s3:\/\/bucket\/lab$/m,
    );
    const bad = await world.qnb(['install-cron', '--print', '--copy-to', 'ftp://host/x']);
    assert.equal(bad.code, 2);
    assert.equal(errorLines(bad).length, 1);
    assert.match(errorLines(bad)[0]!, /^✘ ftp:\/\/ copy targets are not supported/);
  });
});
