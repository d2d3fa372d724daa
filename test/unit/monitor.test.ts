/**
 * Monitoring hooks: pings (start, success, fail) and the webhook against a local HTTP receiver,
 * the Prometheus textfile, and the rule that a hook never changes a backup's outcome.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { type BackupCopyReport, backupSucceeded, copyFailure } from '../../src/core/backup-copy.js';
import { InterruptedError, LockedError, QnbError } from '../../src/core/errors.js';
import type { QnbEvent } from '../../src/core/events.js';
import { acquireLock } from '../../src/core/lock.js';
import type { BackupResult } from '../../src/core/manager.js';
import type { HookRecord } from '../../src/core/manifest.js';
import { createMonitor, describeUrl, prometheusText } from '../../src/core/monitor.js';
import { createRepository } from '../../src/core/repository.js';
import { computeStatus } from '../../src/core/status.js';
import { tempDir } from '../helpers/tmp.js';

/** A local HTTP receiver that records every request. */
async function startReceiver(
  t: { after(fn: () => unknown): void },
  status = 200,
): Promise<{ url: string; hits: { method: string; path: string; body: string }[]; server: Server }> {
  const hits: { method: string; path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      hits.push({ method: req.method ?? '', path: req.url ?? '', body });
      res.statusCode = status;
      res.end('OK');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise((r) => server.close(r)));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, hits, server };
}

function result(status: BackupResult['status']): BackupResult {
  return {
    setId: '20260310-020000-abcd',
    status,
    durationMs: 1234,
    artifacts:
      status === 'failed'
        ? []
        : [
            {
              target: 'qdrant',
              kind: 'qdrant-collection',
              name: 'papers',
              file: 'qdrant/papers-backup-20260310-020000.snapshot',
              status: 'ok',
              bytes: 4096,
              sha256: 'a'.repeat(64),
              serverChecksum: 'a'.repeat(64),
              checksumSource: 'server',
              serverVersion: '1.19.0',
              counts: { points: 40 },
              startedAt: '2026-03-10T02:00:00.000Z',
              finishedAt: '2026-03-10T02:00:01.000Z',
              durationMs: 1000,
            },
          ],
    errors:
      status === 'ok' ? [] : [{ target: 'neo4j', name: 'neo4j', code: 'E_CONNECT', message: 'Bolt refused' }],
  };
}

async function setup(t: Parameters<typeof tempDir>[0]) {
  const root = await tempDir(t);
  const warnings: string[] = [];
  const repository = createRepository(join(root, 'backups'));
  const reporter = { emit: (e: QnbEvent) => e.type === 'warning' && warnings.push(e.message) };
  return { root, repository, reporter, warnings };
}

test('pings: /start then the URL on success; /start then /fail on a failed or partial set', async (t) => {
  const rx = await startReceiver(t);
  const { repository, reporter, warnings } = await setup(t);
  const monitor = createMonitor(
    { pingUrl: `${rx.url}/hc/uuid-123`, webhookUrl: undefined, prometheusFile: undefined },
    { reporter, repository },
  );
  assert.equal(monitor.active, true);
  const ok = await monitor.around({ command: 'backup-all' }, async () => result('ok'));
  assert.equal(ok.status, 'ok');
  assert.deepEqual(
    rx.hits.map((h) => `${h.method} ${h.path}`),
    ['GET /hc/uuid-123/start', 'GET /hc/uuid-123'],
  );
  rx.hits.length = 0;
  await monitor.around({ command: 'backup-all' }, async () => result('partial'));
  await monitor.around({ command: 'backup-all' }, async () => result('failed'));
  await assert.rejects(
    monitor.around({ command: 'backup-all' }, async () => {
      throw new InterruptedError();
    }),
    InterruptedError,
  );
  assert.deepEqual(
    rx.hits.map((h) => h.path),
    [
      '/hc/uuid-123/start',
      '/hc/uuid-123/fail',
      '/hc/uuid-123/start',
      '/hc/uuid-123/fail',
      '/hc/uuid-123/start',
      '/hc/uuid-123/fail',
    ],
  );
  assert.deepEqual(warnings, []);
});

test('--copy-to: an ok set whose copy failed is a failed run (ping /fail, webhook copy-failed, textfile 0)', async (t) => {
  const rx = await startReceiver(t);
  const { root, repository, reporter } = await setup(t);
  const prom = join(root, 'qnb.prom');
  const monitor = createMonitor(
    { pingUrl: `${rx.url}/hc`, webhookUrl: `${rx.url}/hook`, prometheusFile: prom },
    { reporter, repository },
  );
  const copy = (over: Partial<BackupCopyReport>): BackupCopyReport => ({
    target: '/mnt/usb/qnb',
    verification: 'sha256',
    dryRun: false,
    ok: true,
    sets: [],
    sentFiles: 2,
    sentBytes: 4096,
    durationMs: 5,
    ...over,
  });
  const unreachable = copy({
    ok: false,
    sentFiles: 0,
    sentBytes: 0,
    error: { code: 'E_NOT_FOUND', message: 'copy target /mnt/usb/qnb: folder does not exist' },
  });
  const refused = copy({
    ok: false,
    sets: [{ id: 's1', action: 'failed', artifacts: [], error: { code: 'E_REFUSED', message: 'x exists' } }],
  });
  for (const c of [unreachable, refused]) {
    assert.equal(backupSucceeded({ ...result('ok'), copy: c }), false);
    assert.equal(copyFailure(c)?.code, c.error?.code ?? 'E_REFUSED');
  }
  assert.equal(backupSucceeded({ ...result('ok'), copy: copy({}) }), true);
  assert.equal(copyFailure({ skipped: 'the backup set is failed' }), undefined);

  await monitor.around({ command: 'backup-all (schedule)' }, async () => ({
    ...result('ok'),
    copy: unreachable,
  }));
  assert.deepEqual(
    rx.hits.map((h) => `${h.method} ${h.path}`),
    ['GET /hc/start', 'POST /hc/fail', 'POST /hook'],
  );
  const body = JSON.parse(rx.hits[2]!.body);
  assert.equal(body.status, 'copy-failed');
  assert.equal(body.ok, false);
  assert.deepEqual(body.copy, {
    target: '/mnt/usb/qnb',
    ok: false,
    sentFiles: 0,
    sentBytes: 0,
    error: { code: 'E_NOT_FOUND', message: 'copy target /mnt/usb/qnb: folder does not exist' },
  });
  assert.match(body.text, /ok \(1 backup\(s\)\); copy to \/mnt\/usb\/qnb FAILED: copy target/);
  assert.match(await readFile(prom, 'utf8'), /^qnb_last_run_success 0$/m);

  rx.hits.length = 0;
  await monitor.around({ command: 'backup-all' }, async () => ({ ...result('ok'), copy: copy({}) }));
  assert.deepEqual(
    rx.hits.map((h) => h.path),
    ['/hc/start', '/hc', '/hook'],
  );
  const good = JSON.parse(rx.hits[2]!.body);
  assert.equal(good.status, 'ok');
  assert.deepEqual(good.copy, { target: '/mnt/usb/qnb', ok: true, sentFiles: 2, sentBytes: 4096 });
  assert.match(good.text, /; copied to \/mnt\/usb\/qnb$/);
  assert.match(await readFile(prom, 'utf8'), /^qnb_last_run_success 1$/m);
});

test('a failed hooks.afterSet fails the run: /fail with the reason, webhook ok:false naming it, textfile 0', async (t) => {
  const rx = await startReceiver(t);
  const { root, repository, reporter } = await setup(t);
  const prom = join(root, 'qnb.prom');
  const monitor = createMonitor(
    { pingUrl: `${rx.url}/hc`, webhookUrl: `${rx.url}/hook`, prometheusFile: prom },
    { reporter, repository },
  );
  const hooks: HookRecord[] = [
    { hook: 'beforeSet', ok: true, durationMs: 5, exitCode: 0 },
    {
      hook: 'afterSet',
      ok: false,
      durationMs: 7,
      exitCode: 7,
      detail: 'exited with status 7: resume failed',
    },
  ];
  const r = await monitor.around({ command: 'backup-all (schedule)' }, async () => ({
    ...result('ok'),
    hooks,
  }));
  assert.equal(r.status, 'ok', 'the set itself stays ok');
  assert.equal(backupSucceeded(r), false);
  assert.deepEqual(
    rx.hits.map((h) => `${h.method} ${h.path}`),
    ['GET /hc/start', 'POST /hc/fail', 'POST /hook'],
  );
  assert.match(rx.hits[1]!.body, /hooks\.afterSet FAILED: exited with status 7: resume failed/);
  const body = JSON.parse(rx.hits[2]!.body);
  assert.equal(body.ok, false);
  assert.equal(body.status, 'hook-failed');
  assert.deepEqual(body.hooks, [
    { hook: 'beforeSet', ok: true, exitCode: 0 },
    { hook: 'afterSet', ok: false, exitCode: 7, message: 'exited with status 7: resume failed' },
  ]);
  assert.match(body.text, /set 20260310-020000-abcd ok .*; hooks\.afterSet FAILED: exited with status 7/);
  assert.match(await readFile(prom, 'utf8'), /^qnb_last_run_success 0$/m);
});

test('a backups folder that cannot be locked (full disk, EACCES, not a folder) is a failed run, then thrown', async (t) => {
  const rx = await startReceiver(t);
  const { root, repository, reporter } = await setup(t);
  const prom = join(root, 'qnb.prom');
  const full = new QnbError('E_IO', `${repository.root}: no space left on device`);
  const notDir = join(root, 'a-file');
  await writeFile(notDir, 'x');
  const cases = [
    { repo: { ...repository, init: () => Promise.reject(full) }, thrown: (e: unknown) => e === full },
    {
      // the lock's temp file cannot be written: the same path as ENOSPC/EACCES in acquireLock
      repo: { ...createRepository(notDir), init: () => Promise.resolve() },
      thrown: (e: unknown) => e instanceof Error && /ENOTDIR/.test(e.message),
    },
  ];
  for (const { repo, thrown } of cases) {
    rx.hits.length = 0;
    const monitor = createMonitor(
      { pingUrl: `${rx.url}/hc`, webhookUrl: `${rx.url}/hook`, prometheusFile: prom },
      { reporter, repository: repo },
    );
    let ran = false;
    await assert.rejects(
      monitor.around({ command: 'backup-all (schedule)' }, async () => {
        ran = true;
        return result('ok');
      }),
      thrown,
    );
    assert.equal(ran, false);
    assert.deepEqual(
      rx.hits.map((h) => `${h.method} ${h.path}`),
      ['POST /hc/fail', 'POST /hook'],
    );
    const body = JSON.parse(rx.hits[1]!.body);
    assert.equal(body.status, 'error');
    assert.equal(body.ok, false);
    assert.equal(body.errors[0].code, 'E_IO');
    assert.equal(rx.hits[0]!.body, body.text);
    assert.match(await readFile(prom, 'utf8'), /^qnb_last_run_success 0$/m);
  }
  assert.match(JSON.parse(rx.hits[1]!.body).text, /a-file/);
});

test('a failing ping or webhook is a warning, never a failed backup; the URL is not shown', async (t) => {
  const rx = await startReceiver(t, 500);
  const closed = await startReceiver(t);
  await new Promise((r) => closed.server.close(r));
  const { repository, reporter, warnings } = await setup(t);
  const monitor = createMonitor(
    {
      pingUrl: `${rx.url}/secret-token`,
      webhookUrl: `${closed.url}/hook?key=abc`,
      prometheusFile: undefined,
    },
    { reporter, repository, timeoutMs: 2000 },
  );
  const r = await monitor.around({ command: 'backup-all' }, async () => result('ok'));
  assert.equal(r.status, 'ok');
  assert.equal(warnings.length, 3, warnings.join('\n'));
  assert.match(
    warnings[0]!,
    /^ping http:\/\/127\.0\.0\.1:\d+\/…\/start failed \(HTTP 500\); the backup is not affected$/,
  );
  assert.ok(
    warnings.includes(`webhook ${closed.url}/… failed (ECONNREFUSED); the backup is not affected`),
    warnings.join('\n'),
  );
  assert.ok(!warnings.join('\n').includes('secret-token') && !warnings.join('\n').includes('key=abc'));
  assert.equal(describeUrl('https://hc-ping.com/abc'), 'https://hc-ping.com/…');
  assert.equal(describeUrl('https://user:pw@example.com'), 'https://example.com');
});

test('webhook: one JSON POST per run with event, status, setId, artifacts, errors, durationMs', async (t) => {
  const rx = await startReceiver(t);
  const { repository, reporter } = await setup(t);
  const monitor = createMonitor(
    { pingUrl: undefined, webhookUrl: `${rx.url}/hook`, prometheusFile: undefined },
    { reporter, repository, redact: (s) => s.replaceAll('Bolt', '***') },
  );
  await monitor.around({ command: 'backup-all (schedule)' }, async () => result('partial'));
  assert.equal(rx.hits.length, 1);
  assert.equal(rx.hits[0]!.method, 'POST');
  const body = JSON.parse(rx.hits[0]!.body);
  assert.equal(body.event, 'backup');
  assert.equal(body.status, 'partial');
  assert.equal(body.ok, false);
  assert.equal(body.setId, '20260310-020000-abcd');
  assert.equal(body.command, 'backup-all (schedule)');
  assert.equal(body.durationMs, 1234);
  assert.deepEqual(body.artifacts, [
    {
      target: 'qdrant',
      name: 'papers',
      file: 'qdrant/papers-backup-20260310-020000.snapshot',
      bytes: 4096,
      counts: { points: 40 },
    },
  ]);
  assert.deepEqual(body.errors, [
    { target: 'neo4j', name: 'neo4j', code: 'E_CONNECT', message: '*** refused' },
  ]);
  assert.match(body.text, /set 20260310-020000-abcd partial/);
});

test('a run refused by the lock sends nothing (the holder reports)', async (t) => {
  const rx = await startReceiver(t);
  const { repository, reporter } = await setup(t);
  await repository.init();
  const lock = await acquireLock(repository.root, 'backup-all');
  t.after(() => lock.release());
  const monitor = createMonitor(
    { pingUrl: `${rx.url}/p`, webhookUrl: `${rx.url}/w`, prometheusFile: undefined },
    { reporter, repository },
  );
  let ran = false;
  await assert.rejects(
    monitor.around({ command: 'backup-all' }, async () => {
      ran = true;
      return result('ok');
    }),
    LockedError,
  );
  assert.equal(ran, false);
  assert.deepEqual(rx.hits, []);
});

test('Prometheus textfile: per-target gauges, run gauges, written atomically, readable by the exporter', async (t) => {
  const { root, repository, reporter } = await setup(t);
  const file = join(root, 'textfile', 'qnb.prom');
  const monitor = createMonitor(
    { pingUrl: undefined, webhookUrl: undefined, prometheusFile: file },
    { reporter, repository },
  );
  await monitor.around({ command: 'backup-all' }, async () => result('failed'));
  const text = await readFile(file, 'utf8');
  assert.match(text, /^qnb_last_run_success 0$/m);
  assert.match(text, /^qnb_last_run_duration_seconds 1\.234$/m);
  assert.equal((await stat(file)).mode & 0o777, 0o644);
  assert.deepEqual(await readdir(join(root, 'textfile')), ['qnb.prom'], 'no temp file left');

  const report = computeStatus(
    {
      sets: [],
      artifacts: [
        {
          set: { reason: 'backup' } as never,
          artifact: { ...result('ok').artifacts[0]!, name: 'pa"pers' },
          path: '/x',
          createdAt: new Date('2026-03-10T02:00:01Z'),
          valid: true,
        },
        {
          set: { reason: 'backup' } as never,
          artifact: {
            ...result('ok').artifacts[0]!,
            name: 'sharded',
            details: { cluster: { shards: [{}, {}, {}], shardNumber: 3, shardingMethod: 'auto' } },
          },
          path: '/y',
          createdAt: new Date('2026-03-10T02:00:01Z'),
          valid: true,
        },
      ],
      unknownFiles: [],
      badManifests: [],
    },
    { now: new Date('2026-03-10T03:00:00Z'), maxAgeMs: 1e9 },
  );
  const prom = prometheusText(report, { ok: true, durationMs: 2500, at: new Date('2026-03-10T03:00:00Z') });
  assert.match(prom, /^# TYPE qnb_last_success_timestamp_seconds gauge$/m);
  assert.match(prom, /^qnb_last_success_timestamp_seconds\{target="qdrant",name="pa\\"pers"\} 1773108001$/m);
  assert.match(prom, /^qnb_last_duration_seconds\{target="qdrant",name="pa\\"pers"\} 1$/m);
  assert.match(prom, /^qnb_last_bytes\{target="qdrant",name="pa\\"pers"\} 4096$/m);
  assert.match(prom, /^qnb_last_points\{target="qdrant",name="pa\\"pers"\} 40$/m);
  assert.doesNotMatch(prom, /qnb_last_nodes/);
  assert.match(prom, /^qnb_last_shards\{target="qdrant",name="sharded"\} 3$/m);
  assert.match(prom, /^qnb_last_shard_coverage\{target="qdrant",name="sharded"\} 1$/m);
  assert.doesNotMatch(prom, /qnb_last_shards\{target="qdrant",name="pa/);
  assert.match(prom, /^qnb_last_run_timestamp_seconds 1773111600$/m);
  assert.match(prom, /^qnb_last_run_success 1$/m);
  assert.ok(prom.endsWith('\n'));
});

test('no hooks configured: the run is passed through untouched', async (t) => {
  const { repository, reporter } = await setup(t);
  const monitor = createMonitor(
    { pingUrl: undefined, webhookUrl: undefined, prometheusFile: undefined },
    { reporter, repository },
  );
  assert.equal(monitor.active, false);
  assert.equal((await monitor.around({ command: 'x' }, async () => result('ok'))).status, 'ok');
  await assert.rejects(stat(repository.root), /ENOENT/, 'nothing created');
});
