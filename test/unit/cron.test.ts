/**
 * Cron expressions (schedule and crontab), the systemd OnCalendar conversion, and the idempotent
 * crontab editing of install-cron.
 */
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { ConfigError } from '../../src/core/errors.js';
import { cronToOnCalendar, parseCrontabCron, parseScheduleCron } from '../../src/schedule/cron.js';
import {
  CRON_MARKER,
  cronLine,
  type JobSpec,
  mergeCrontab,
  readCrontab,
  shellQuote,
  systemdUnits,
  writeCrontab,
} from '../../src/schedule/install-cron.js';
import { tempDir } from '../helpers/tmp.js';

const job: JobSpec = {
  node: '/usr/bin/node',
  script: '/opt/qnb/dist/cli/main.js',
  cwd: '/srv/agent zot',
  args: ['backup-all', '--config', '/srv/agent zot/qnb.config.yaml'],
};

describe('schedule expressions (croner)', () => {
  test('5 fields, 6 with seconds, and nicknames are accepted', () => {
    assert.ok(parseScheduleCron('0 2 * * *', '--cron').nextRun());
    assert.ok(parseScheduleCron('* * * * * *', '--cron').nextRun());
    assert.ok(parseScheduleCron('@daily', '--cron').nextRun());
    const berlin = parseScheduleCron('0 2 * * *', '--cron', 'Europe/Berlin').nextRun(
      new Date('2026-01-10T12:00:00Z'),
    );
    assert.equal(berlin?.toISOString(), '2026-01-11T01:00:00.000Z');
  });

  test('invalid expressions are ConfigErrors naming the source', () => {
    for (const bad of ['61 * * * *', 'bogus', '* * *', '0 25 * * *']) {
      assert.throws(
        () => parseScheduleCron(bad, 'QNB_CRON'),
        (e: unknown) => e instanceof ConfigError && e.message.startsWith(`QNB_CRON "${bad}": `) && !!e.hint,
      );
    }
  });
});

describe('crontab expressions', () => {
  test('classic syntax, names and nicknames', () => {
    assert.deepEqual(parseCrontabCron('*/15 2,14 * JAN-MAR mon-fri', 'x').values, [
      [0, 15, 30, 45],
      [2, 14],
      Array.from({ length: 31 }, (_, i) => i + 1),
      [1, 2, 3],
      [1, 2, 3, 4, 5],
    ]);
    assert.deepEqual(parseCrontabCron('@weekly', 'x').fields, ['0', '0', '*', '*', '0']);
    assert.deepEqual(parseCrontabCron('0 0 * * 7', 'x').values[4], [0]);
  });

  test("croner's extensions and seconds are refused: cron would not understand them", () => {
    for (const bad of [
      '* * * * * *',
      '0 2 L * *',
      '0 2 * * 5#2',
      '0 2 ? * *',
      '@reboot',
      '60 * * * *',
      '5-1 * * * *',
    ]) {
      assert.throws(() => parseCrontabCron(bad, '--cron'), ConfigError, bad);
    }
  });
});

describe('systemd OnCalendar', () => {
  const cases: [string, string][] = [
    ['0 2 * * *', '*-*-* 02:00:00'],
    ['0 */6 * * *', '*-*-* 00,06,12,18:00:00'],
    ['0 3 * * 0', 'Sun *-*-* 03:00:00'],
    ['0 * * * *', '*-*-* *:00:00'],
    ['0 2,14 * * *', '*-*-* 02,14:00:00'],
    ['30 4 1 * *', '*-*-01 04:30:00'],
    ['0 9 * * mon-fri', 'Mon,Tue,Wed,Thu,Fri *-*-* 09:00:00'],
    ['@monthly', '*-*-01 00:00:00'],
  ];
  for (const [cron, cal] of cases)
    test(`${cron} → ${cal}`, () => assert.equal(cronToOnCalendar(cron, 'x'), cal));

  test('day of month and weekday both restricted cannot be expressed: clear error', () => {
    assert.throws(
      () => cronToOnCalendar('0 3 1 * 0', '--cron'),
      (e: unknown) => e instanceof ConfigError && /cannot be written as a systemd OnCalendar/.test(e.message),
    );
  });
});

describe('crontab line and idempotent editing', () => {
  test('the line: cd into the folder, absolute node and script, log, marker; quoting and %', () => {
    const line = cronLine('0 2 * * *', job, '/tmp/qnb-backup.log');
    assert.equal(
      line,
      `0 2 * * * cd '/srv/agent zot' && /usr/bin/node /opt/qnb/dist/cli/main.js backup-all --config '/srv/agent zot/qnb.config.yaml' >> /tmp/qnb-backup.log 2>&1 ${CRON_MARKER}`,
    );
    assert.match(cronLine('0 2 * * *', { ...job, cwd: '/srv/100%' }, '/tmp/l'), /cd \/srv\/100\\% &&/);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
  });

  test('install twice → one qnb line; other lines kept exactly', () => {
    const foreign = '# my jobs\nMAILTO=me@example.com\n*/5 * * * * /usr/local/bin/sync-notes\n';
    const first = mergeCrontab(foreign, cronLine('0 2 * * *', job, '/tmp/a.log'));
    assert.equal(first.replaced, 0);
    assert.ok(first.text.startsWith(foreign));
    const second = mergeCrontab(first.text, cronLine('0 2 * * *', job, '/tmp/a.log'));
    assert.equal(second.text, first.text);
    const changed = mergeCrontab(first.text, cronLine('0 3 * * *', job, '/tmp/a.log'));
    assert.equal(changed.replaced, 1);
    const lines = changed.text.trimEnd().split('\n');
    assert.equal(lines.filter((l) => l.endsWith(CRON_MARKER)).length, 1);
    assert.ok(lines.at(-1)!.startsWith('0 3 * * * '));
    assert.deepEqual(lines.slice(0, 3), foreign.trimEnd().split('\n'));
    assert.equal(mergeCrontab('', 'x # qnb-backup').text, 'x # qnb-backup\n');
  });

  test('readCrontab / writeCrontab through a crontab program (none yet → empty)', async (t) => {
    const dir = await tempDir(t);
    const store = join(dir, 'crontab.txt');
    const fake = join(dir, 'crontab');
    await writeFile(
      fake,
      `#!/bin/sh\ncase "$1" in\n-l) [ -f '${store}' ] && exec cat '${store}'; echo "no crontab for tester" >&2; exit 1;;\n-) exec cat > '${store}';;\nesac\nexit 2\n`,
    );
    await chmod(fake, 0o755);
    assert.equal(await readCrontab(fake), '');
    await writeCrontab(fake, 'a b c\n');
    assert.equal(await readFile(store, 'utf8'), 'a b c\n');
    assert.equal(await readCrontab(fake), 'a b c\n');
    await assert.rejects(readCrontab(join(dir, 'missing')), /crontab: program .* not found/);
  });

  test('systemd units: oneshot service in the folder, timer with OnCalendar, log only when asked', () => {
    const { service, timer } = systemdUnits(job, '*-*-* 02:00:00', '0 2 * * *', undefined);
    assert.match(service, /^\[Unit\]\n/);
    assert.match(service, /\nType=oneshot\n/);
    assert.match(service, /\nWorkingDirectory=\/srv\/agent zot\n/);
    assert.match(
      service,
      /\nExecStart=\/usr\/bin\/node \/opt\/qnb\/dist\/cli\/main.js backup-all --config "\/srv\/agent zot\/qnb.config.yaml"\n/,
    );
    assert.doesNotMatch(service, /StandardOutput/);
    // systemd must not kill the Neo4j guardian with a dead qnb (KillMode=control-group would)
    assert.match(service, /\nKillMode=process\n/);
    assert.match(timer, /\n\[Timer\]\nOnCalendar=\*-\*-\* 02:00:00\nPersistent=true\n/);
    assert.match(timer, /\n\[Install\]\nWantedBy=timers.target\n/);
    const logged = systemdUnits(job, 'x', 'y', '/var/log/qnb.log').service;
    assert.match(
      logged,
      /\nStandardOutput=append:\/var\/log\/qnb.log\nStandardError=append:\/var\/log\/qnb.log\n/,
    );
  });
});
