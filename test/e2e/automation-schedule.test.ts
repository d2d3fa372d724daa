/**
 * `qnb schedule` and `qnb install-cron` through the real CLI against the Qdrant test server:
 * ticks run backup-all, an overrun is skipped and logged, SIGTERM stops cleanly, and the crontab
 * line is installed idempotently through a crontab program (a fake one: cron may be absent).
 */
import assert from 'node:assert/strict';
import { chmod, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { QNB_BIN } from '../helpers/cli.js';
import { createQnbWorld, errorLines } from '../helpers/qnb-world.js';
import { tempDir } from '../helpers/tmp.js';
import { follow, readSets, runCronLine } from './automation-helpers.js';

describe('qnb schedule', () => {
  test('an every-second cron runs backup-all at least twice; SIGTERM stops it cleanly', async (t) => {
    const world = await createQnbWorld(t);
    const proc = follow(t, world.start(['schedule', '--cron', '* * * * * *', '--skip-neo4j']));
    await proc.waitFor(/qnb schedule: "\* \* \* \* \* \*"/);
    await proc.waitFor(/run \d+: ok — set /, { times: 2 });
    const run = await proc.stop('SIGTERM');
    assert.ok(run.code === 0 || run.code === 130, `exit ${run.code}\n${proc.output()}`);
    assert.match(proc.output(), /stopped after \d+ run\(s\)/);
    assert.match(
      proc.output(),
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] run 1: backup-all started$/m,
      'timestamped plain lines',
    );
    const sets = await readSets(world.backupDir);
    const ok = sets.filter((s) => s.status === 'ok');
    assert.ok(ok.length >= 2, `${ok.length} ok sets`);
    assert.ok(
      sets.every((s) => s.status !== 'running'),
      'no set left running',
    );
    assert.ok(ok.every((s) => s.command === 'backup-all (schedule)'));
    assert.deepEqual(new Set(ok[0]!.artifacts.map((a) => a.name)), new Set(['papers', 'chunks']));
    assert.ok(!(await readdir(world.backupDir)).includes('.qnb.lock'), 'lock released');
    assert.equal(sets.length, (proc.output().match(/run \d+: backup-all started/g) ?? []).length);
  });

  test('overrun: while a slow backup runs, ticks are skipped and logged; runs never overlap', async (t) => {
    const world = await createQnbWorld(t);
    world.server.setSnapshotPadding('papers', 2 * 1024 * 1024);
    world.server.inject({
      op: 'download-snapshot',
      collection: 'papers',
      fault: { kind: 'slow', delayMs: 100 },
      times: 1,
    });
    const proc = follow(t, world.start(['schedule', '--cron', '* * * * * *', '--skip-neo4j']));
    await proc.waitFor(/run 1: backup-all started/);
    await proc.waitFor(/skipped: the previous run is still going/, { times: 2, timeoutMs: 20_000 });
    await proc.waitFor(/run 1: ok/, { timeoutMs: 60_000 });
    await proc.waitFor(/run 2: ok/, { timeoutMs: 20_000 });
    const run = await proc.stop('SIGTERM');
    assert.ok(run.code === 0 || run.code === 130, `exit ${run.code}`);
    const started = (proc.output().match(/run \d+: backup-all started/g) ?? []).length;
    const sets = await readSets(world.backupDir);
    assert.equal(sets.length, started, 'exactly one set per run that started');
    // no two runs overlapped in time
    for (let i = 1; i < sets.length; i++) {
      assert.ok(sets[i - 1]!.finishedAt! <= sets[i]!.startedAt, `set ${i - 1} ended before set ${i} began`);
    }
    const durations = sets[0]!.finishedAt
      ? Date.parse(sets[0]!.finishedAt) - Date.parse(sets[0]!.startedAt)
      : 0;
    assert.ok(durations > 2000, `the first run was slow (${durations} ms)`);
  });

  test('SIGINT during a running backup interrupts it and exits 130, leaving nothing half-done', async (t) => {
    const world = await createQnbWorld(t);
    world.server.setSnapshotPadding('papers', 8 * 1024 * 1024);
    world.server.inject({
      op: 'download-snapshot',
      fault: { kind: 'slow', delayMs: 100 },
      times: Number.POSITIVE_INFINITY,
    });
    const proc = follow(t, world.start(['schedule', '--cron', '* * * * * *', '--skip-neo4j']));
    await proc.waitFor(/download papers/);
    const run = await proc.stop('SIGINT');
    assert.equal(run.code, 130, proc.output());
    assert.match(proc.output(), /stopping: interrupting the running backup/);
    assert.match(proc.output(), /run 1: interrupted/);
    const sets = await readSets(world.backupDir);
    assert.deepEqual(
      sets.map((s) => s.status),
      ['interrupted'],
    );
    const names = await readdir(join(world.backupDir, 'qdrant'));
    assert.deepEqual(
      names.filter((n) => n.startsWith('.qnb-tmp-')),
      [],
      'temp file removed',
    );
  });

  test('an invalid cron expression is one config error line and exit 2', async (t) => {
    const world = await createQnbWorld(t);
    for (const args of [
      ['schedule', '--cron', '61 * * * *'],
      ['schedule', '--cron', 'every day'],
    ]) {
      const run = await world.qnb(args);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(errorLines(run).length, 1);
      assert.match(run.stderr, /^✘ --cron "[^"]+": .+ — use 5 fields/m);
    }
    const env = await world.qnb(['schedule'], { QNB_CRON: '* * *' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /^✘ QNB_CRON "\* \* \*": /m);
    assert.deepEqual(await readdir(world.cwd), [], 'nothing touched');
  });
});

describe('qnb install-cron', () => {
  /** A crontab program that keeps the table in a file, like `crontab -l` / `crontab -`. */
  async function fakeCrontab(t: Parameters<typeof tempDir>[0]) {
    const dir = await tempDir(t);
    const store = join(dir, 'table');
    const bin = join(dir, 'crontab');
    await writeFile(
      bin,
      `#!/bin/sh\ncase "$1" in\n-l) [ -f '${store}' ] && exec cat '${store}'; echo "no crontab for tester" >&2; exit 1;;\n-) exec cat > '${store}';;\nesac\necho "usage" >&2; exit 2\n`,
    );
    await chmod(bin, 0o755);
    return { bin, store, read: () => readFile(store, 'utf8') };
  }

  test('installs once: twice gives one qnb line, foreign lines are kept, a new --cron replaces it', async (t) => {
    const world = await createQnbWorld(t);
    const cron = await fakeCrontab(t);
    const foreign = 'MAILTO=me@example.com\n# nightly sync\n*/5 * * * * /usr/local/bin/sync-notes\n';
    await writeFile(cron.store, foreign);
    const env = { QNB_CRONTAB: cron.bin };
    const first = await world.qnb(['install-cron', '--skip-neo4j', '--log', 'logs/qnb.log'], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Added to your crontab:/);
    const second = await world.qnb(['install-cron', '--skip-neo4j', '--log', 'logs/qnb.log'], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /already holds this qnb line \(unchanged\)/);
    const table = await cron.read();
    assert.ok(table.startsWith(foreign), 'foreign lines untouched');
    const qnbLines = table.split('\n').filter((l) => l.endsWith('# qnb-backup'));
    assert.equal(qnbLines.length, 1);
    assert.equal(
      qnbLines[0],
      `0 2 * * * cd ${world.cwd} && ${process.execPath} ${QNB_BIN} backup-all --skip-neo4j >> ${join(world.cwd, 'logs/qnb.log')} 2>&1 # qnb-backup`,
    );
    assert.match(first.stderr, /QDRANT_URL comes from your environment, which cron does not have/);

    const changed = await world.qnb(['install-cron', '--cron', '0 */6 * * *'], env);
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stdout, /^Replaced the previous qnb line/);
    const after = (await cron.read()).split('\n').filter((l) => l.endsWith('# qnb-backup'));
    assert.equal(after.length, 1);
    assert.ok(after[0]!.startsWith('0 */6 * * * cd '));
    assert.ok(after[0]!.includes('>> /tmp/qnb-backup.log 2>&1'), 'the default log, as in the guide');
    assert.ok((await cron.read()).startsWith(foreign));
  });

  test('the installed line really runs a backup (cron executes it with /bin/sh)', async (t) => {
    const world = await createQnbWorld(t);
    await writeFile(
      join(world.cwd, 'qnb.config.json'),
      JSON.stringify({ qdrant: { url: world.server.url } }),
    );
    const printed = await world.qnb(['install-cron', '--print', '--skip-neo4j', '--log', 'cron.log'], {
      QDRANT_URL: undefined,
    });
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stderr, '', 'the config file holds everything: no environment warning');
    const line = printed.stdout.trim();
    assert.match(line, /--config \S+qnb\.config\.json/);
    assert.equal(await runCronLine(line, world.cwd), 0);
    const log = await readFile(join(world.cwd, 'cron.log'), 'utf8');
    assert.match(log, /=== Backup Results ===/);
    assert.equal((await readSets(world.backupDir)).filter((s) => s.status === 'ok').length, 1);
  });

  test('a --log whose folder does not exist yet: install-cron creates it and the installed line writes a set', async (t) => {
    const world = await createQnbWorld(t);
    const cron = await fakeCrontab(t);
    await writeFile(
      join(world.cwd, 'qnb.config.json'),
      JSON.stringify({ qdrant: { url: world.server.url } }),
    );
    const env = { QNB_CRONTAB: cron.bin, QDRANT_URL: undefined };
    const run = await world.qnb(['install-cron', '--skip-neo4j', '--log', 'logs/qnb.log'], env);
    assert.equal(run.code, 0, run.stderr);
    const line = (await cron.read()).split('\n').find((l) => l.endsWith('# qnb-backup'))!;
    assert.equal(await runCronLine(line, world.cwd), 0);
    assert.match(await readFile(join(world.cwd, 'logs/qnb.log'), 'utf8'), /=== Backup Results ===/);
    assert.equal((await readSets(world.backupDir)).filter((s) => s.status === 'ok').length, 1);
  });

  test('a --log qnb cannot append to is exit 2 naming the path, and the crontab is not touched', async (t) => {
    const world = await createQnbWorld(t);
    const cron = await fakeCrontab(t);
    await writeFile(cron.store, 'keep me\n');
    // a parent that is a regular file: fails for root too (a chmod-based folder would not)
    await writeFile(join(world.cwd, 'not-a-folder'), 'x');
    const bad = join(world.cwd, 'not-a-folder', 'qnb.log');
    const run = await world.qnb(['install-cron', '--log', bad], { QNB_CRONTAB: cron.bin });
    assert.equal(run.code, 2, run.stderr);
    assert.equal(errorLines(run).length, 1);
    assert.match(
      run.stderr,
      /^✘ --log \S+not-a-folder\/qnb\.log: cannot append to it .* — .*qnb-backup\.log/m,
    );
    assert.equal(await cron.read(), 'keep me\n');
    for (const mode of ['--print', '--systemd']) {
      const printed = await world.qnb(['install-cron', mode, '--log', bad]);
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stderr, /⚠ --log \S+not-a-folder\/qnb\.log: cannot append to it/, mode);
    }
  });

  test('--qdrant-node URLs (repeatable) are written into the line', async (t) => {
    const world = await createQnbWorld(t);
    const args = [
      'install-cron',
      '--print',
      '--qdrant-node',
      'http://n1:6333',
      '--qdrant-node',
      'http://n2:6333',
    ];
    const printed = await world.qnb(args);
    assert.equal(printed.code, 0, printed.stderr);
    assert.match(
      printed.stdout,
      / backup-all --qdrant-node http:\/\/n1:6333 --qdrant-node http:\/\/n2:6333 >> /,
    );
    const systemd = await world.qnb([...args.filter((a) => a !== '--print'), '--systemd']);
    assert.match(
      systemd.stdout,
      /^ExecStart=.* backup-all --qdrant-node http:\/\/n1:6333 --qdrant-node http:\/\/n2:6333$/m,
    );
  });

  test('a one-character QDRANT_API_KEY: install-cron --print keeps the line intact and warns', async (t) => {
    const world = await createQnbWorld(t);
    const printed = await world.qnb(['install-cron', '--print', '--skip-neo4j'], { QDRANT_API_KEY: 'k' });
    assert.equal(printed.code, 0, printed.stderr);
    const line = printed.stdout.trim();
    assert.ok(!line.includes('***'), `nothing starred in ${line}`);
    assert.ok(line.includes(`cd ${world.cwd}`) || line.includes(`cd '${world.cwd}'`), line);
    assert.match(line, /backup-all/);
    assert.match(printed.stderr, /QDRANT_API_KEY is shorter than 8 characters/);
  });

  test('--systemd prints a service + timer pair; an expression systemd cannot say is exit 2', async (t) => {
    const world = await createQnbWorld(t);
    const run = await world.qnb(['install-cron', '--systemd', '--cron', '0 3 * * 0']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^# ~\/\.config\/systemd\/user\/qnb-backup\.service\n\[Unit\]\n/);
    assert.match(
      run.stdout,
      /\[Service\]\nType=oneshot\nWorkingDirectory=.+\nExecStart=\S+node \S+main\.js backup-all\n/,
    );
    assert.match(run.stdout, /# ~\/\.config\/systemd\/user\/qnb-backup\.timer\n\[Unit\]\n/);
    assert.match(run.stdout, /\[Timer\]\nOnCalendar=Sun \*-\*-\* 03:00:00\nPersistent=true\n/);
    assert.match(run.stdout, /WantedBy=timers\.target/);
    const json = await world.qnb(['install-cron', '--systemd', '--json']);
    assert.equal(JSON.parse(json.stdout).onCalendar, '*-*-* 02:00:00');
    const bad = await world.qnb(['install-cron', '--systemd', '--cron', '0 3 1 * 0']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^✘ --cron "0 3 1 \* 0": cannot be written as a systemd OnCalendar/m);
  });

  test('invalid cron → exit 2 and the crontab is not touched; no crontab program → clear error', async (t) => {
    const world = await createQnbWorld(t);
    const cron = await fakeCrontab(t);
    await writeFile(cron.store, 'keep me\n');
    for (const expr of ['61 * * * *', '* * * * * *', '0 2 L * *']) {
      const run = await world.qnb(['install-cron', '--cron', expr], { QNB_CRONTAB: cron.bin });
      assert.equal(run.code, 2, `${expr}: ${run.stderr}`);
      assert.equal(errorLines(run).length, 1);
    }
    assert.equal(await cron.read(), 'keep me\n');
    const missing = await world.qnb(['install-cron'], { QNB_CRONTAB: join(world.cwd, 'no-such-crontab') });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^✘ crontab: program "\S+" not found — install cron .*--print or --systemd$/m,
    );
  });
});
