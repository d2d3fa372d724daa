import assert from 'node:assert/strict';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { QnbEvent } from '../../src/core/events.js';
import { type BackupOptions, createBackupManager } from '../../src/core/manager.js';
import type { CopyBackend } from '../../src/storage/backend.js';
import { openCopyBackend } from '../../src/storage/registry.js';
import type { QdrantRestoreReport } from '../../src/targets/qdrant/qdrant-restore.js';
import { aliasList, clientFor, dumpCollection, seedCollections } from '../helpers/qdrant-data.js';
import { tempDir } from '../helpers/tmp.js';
import { startQdrantTestServer } from '../servers/qdrant/index.js';

async function world(
  t: Parameters<typeof tempDir>[0],
  serverOpts: { apiKey?: string } = {},
  env: NodeJS.ProcessEnv = {},
  events: QnbEvent[] = [],
) {
  const server = await startQdrantTestServer(serverOpts);
  t.after(() => server.stop());
  const cwd = await tempDir(t);
  const client = clientFor(server.url, serverOpts.apiKey);
  const { config } = loadConfig({ env: { QDRANT_URL: server.url, ...env }, cwd });
  const m = createBackupManager(config, { onEvent: (e) => events.push(e) });
  t.after(() => m.close());
  // the manager's one backup and restore, under the names this file has always used
  const manager = {
    list: () => m.list(),
    backupQdrant: (opts: BackupOptions = {}) => m.backup('qdrant', opts),
    restoreQdrant: async (o: {
      file?: string;
      latest?: boolean;
      collection?: string;
      as?: string;
      yes?: boolean;
      from?: CopyBackend;
    }) => {
      const r = await m.restore({
        kind: 'qdrant',
        selector: { file: o.file, latest: o.latest, name: o.collection },
        as: o.as,
        yes: o.yes,
        ...(o.from ? { from: o.from } : {}),
      });
      return { ...r, report: r.report as QdrantRestoreReport };
    },
  };
  return { server, client, manager, cwd, config, m };
}

describe('Qdrant backup → drop → restore through the library', () => {
  test('every point, vector, sparse vector, payload and alias comes back', async (t) => {
    const { server, client, manager } = await world(t);
    await seedCollections(client);
    const before = {
      papers: await dumpCollection(client, 'papers'),
      chunks: await dumpCollection(client, 'chunks'),
      aliases: await aliasList(client),
    };

    const result = await manager.backupQdrant();
    assert.equal(result.status, 'ok', JSON.stringify(result.errors));
    assert.deepEqual(result.artifacts.map((a) => a.name).sort(), ['chunks', 'papers']);
    for (const a of result.artifacts) {
      assert.equal(a.status, 'ok');
      assert.equal(a.checksumSource, 'server');
      assert.equal(a.serverChecksum, a.sha256);
      assert.equal(a.serverVersion, server.version);
    }
    assert.equal(result.artifacts.find((a) => a.name === 'papers')!.counts.points, 40);
    // server-side snapshots were deleted after download
    for (const c of ['papers', 'chunks']) assert.deepEqual(await client.listSnapshots(c), []);
    // every download asked for identity encoding
    const downloads = server.requests.filter((r) => r.method === 'GET' && /\/snapshots\/[^/]+$/.test(r.path));
    assert.equal(downloads.length, 2);
    for (const d of downloads) assert.equal(d.headers['accept-encoding'], 'identity');

    await client.deleteCollection('papers');
    await client.deleteCollection('chunks');
    assert.deepEqual(await aliasList(client), []);

    for (const c of ['papers', 'chunks']) {
      const r = await manager.restoreQdrant({ latest: true, collection: c });
      assert.equal(r.report.collection, c);
      assert.equal(r.safetySetId, undefined, 'nothing existed, so no safety backup');
    }
    assert.deepEqual(await dumpCollection(client, 'papers'), before.papers);
    assert.deepEqual(await dumpCollection(client, 'chunks'), before.chunks);
    assert.deepEqual(await aliasList(client), before.aliases);
    const uploads = server.requests.filter(
      (r) => r.method === 'POST' && r.path.endsWith('/snapshots/upload'),
    );
    assert.equal(uploads.length, 2);
    for (const u of uploads) {
      assert.equal(u.query.priority, 'snapshot');
      assert.equal(u.query.wait, 'true');
      assert.match(u.query.checksum ?? '', /^[0-9a-f]{64}$/);
    }
    // the uploaded copies were deleted on the server (Qdrant keeps them otherwise)
    for (const c of ['papers', 'chunks']) assert.deepEqual(await client.listSnapshots(c), []);
  });

  test('--as NEW restores beside the original and leaves aliases alone', async (t) => {
    const { client, manager } = await world(t);
    await seedCollections(client);
    const original = await dumpCollection(client, 'papers');
    await manager.backupQdrant({ collections: ['papers'] });
    await client.upsert('papers', {
      wait: true,
      points: [{ id: 999999, vector: { dense: [1, 0, 0, 0] }, payload: { late: true } }],
    });
    const r = await manager.restoreQdrant({ latest: true, collection: 'papers', as: 'papers_restored' });
    assert.deepEqual(r.report.aliases.skipped, ['library']);
    assert.deepEqual(await dumpCollection(client, 'papers_restored'), original);
    assert.equal((await client.count('papers', { exact: true })).count, 41, 'original untouched');
    assert.ok((await aliasList(client)).includes('library→papers'));
  });

  test('overwriting needs yes, and takes a safety backup first', async (t) => {
    const { client, manager, config } = await world(t);
    await seedCollections(client);
    const original = await dumpCollection(client, 'chunks');
    await manager.backupQdrant({ collections: ['chunks'] });
    await client.upsert('chunks', {
      wait: true,
      points: [{ id: 5, vector: Array(8).fill(0.5), payload: { newer: 1 } }],
    });
    const changed = await dumpCollection(client, 'chunks');
    await assert.rejects(
      manager.restoreQdrant({ latest: true, collection: 'chunks' }),
      (e: Error & { code?: string }) => e.code === 'E_REFUSED' && /would be overwritten/.test(e.message),
    );
    assert.deepEqual(await dumpCollection(client, 'chunks'), changed, 'refusal touched nothing');
    const r = await manager.restoreQdrant({ latest: true, collection: 'chunks', yes: true });
    assert.ok(r.safetySetId);
    assert.deepEqual(await dumpCollection(client, 'chunks'), original);
    // the safety backup holds the overwritten state and is restorable
    const scan = await manager.list();
    const safety = scan.artifacts.find((a) => a.set.id === r.safetySetId)!;
    assert.equal(safety.valid, true);
    assert.equal(safety.set.reason, 'pre-restore');
    assert.equal(safety.artifact.counts.points, 121);
    await manager.restoreQdrant({ file: safety.path, yes: true });
    assert.deepEqual(await dumpCollection(client, 'chunks'), changed);
    assert.ok((await readdir(join(config.backupDir, 'qdrant'))).length >= 3);
  });

  test('a restore that would be refused is refused before its file is read', async (t) => {
    const events: QnbEvent[] = [];
    const { client, manager, config } = await world(t, {}, {}, events);
    await seedCollections(client);
    const backup = await manager.backupQdrant({ collections: ['chunks'] });
    const file = join(config.backupDir, backup.artifacts[0]!.file);
    // one byte changed, size kept: only a full read can tell
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, 1000);
    await fh.close();
    const before = await dumpCollection(client, 'chunks');
    const checking = () => events.filter((e) => e.type === 'step' && /against its manifest/.test(e.message));
    await assert.rejects(
      manager.restoreQdrant({ latest: true, collection: 'chunks' }),
      (e: Error & { code?: string }) => e.code === 'E_REFUSED' && /would be overwritten/.test(e.message),
    );
    assert.equal(checking().length, 0, 'refused without re-hashing the file');
    await assert.rejects(
      manager.restoreQdrant({ latest: true, collection: 'chunks', yes: true }),
      (e: Error) => /file is corrupt/.test(e.message),
    );
    assert.equal(checking().length, 1, 'with --yes the file is re-hashed, and its damage found');
    assert.deepEqual(await dumpCollection(client, 'chunks'), before, 'nothing was touched');
  });

  test('restore --from does not re-hash the file it has just fetched and checked', async (t) => {
    const events: QnbEvent[] = [];
    const { client, manager, m, cwd, config } = await world(t, {}, {}, events);
    await seedCollections(client);
    const original = await dumpCollection(client, 'papers');
    const backup = await manager.backupQdrant({ collections: ['papers'] });
    await mkdir(join(cwd, 'usb'));
    const usb = await openCopyBackend({ kind: 'dir', root: join(cwd, 'usb') });
    assert.equal((await m.copy(usb)).ok, true);
    await rm(join(config.backupDir, backup.artifacts[0]!.file));
    await client.deleteCollection('papers');
    const r = await manager.restoreQdrant({ latest: true, collection: 'papers', from: usb });
    assert.equal(r.fetch?.fetched, true);
    assert.deepEqual(await dumpCollection(client, 'papers'), original);
    const steps = events.filter((e) => e.type === 'step').map((e) => (e as { message: string }).message);
    assert.ok(!steps.some((s) => /against its manifest/.test(s)), steps.join('\n'));
    // a second restore finds the file already in the backups folder: that one is re-hashed
    await client.deleteCollection('papers');
    const again = await manager.restoreQdrant({ latest: true, collection: 'papers', from: usb });
    assert.equal(again.fetch?.fetched, false);
    assert.ok(events.some((e) => e.type === 'step' && /against its manifest/.test(e.message)));
    assert.deepEqual(await dumpCollection(client, 'papers'), original);
  });

  test('restore SET: refused before its files are read; files fetched just now are not re-hashed', async (t) => {
    const events: QnbEvent[] = [];
    const { client, m, cwd, config } = await world(t, {}, {}, events);
    await seedCollections(client);
    const original = {
      papers: await dumpCollection(client, 'papers'),
      chunks: await dumpCollection(client, 'chunks'),
    };
    const backup = await m.backup('qdrant', {});
    assert.equal(backup.status, 'ok');
    const checking = () => events.filter((e) => e.type === 'step' && /against its manifest/.test(e.message));
    // from a copy: both files fetched and checked as they came, then restored without a second read
    await mkdir(join(cwd, 'usb'));
    const usb = await openCopyBackend({ kind: 'dir', root: join(cwd, 'usb') });
    assert.equal((await m.copy(usb)).ok, true);
    for (const a of backup.artifacts) await rm(join(config.backupDir, a.file));
    await client.deleteCollection('papers');
    const fetched = await m.restore({ selector: { latest: true }, from: usb, yes: true });
    assert.equal(fetched.ok, true, JSON.stringify(fetched.steps));
    assert.deepEqual(
      fetched.fetched?.map((f) => f.fetched),
      [true, true],
    );
    assert.equal(checking().length, 0);
    assert.deepEqual(await dumpCollection(client, 'papers'), original.papers);
    // a damaged file (size kept): without --yes the overwrite is refused before any file is read
    const file = join(config.backupDir, backup.artifacts[0]!.file);
    const fh = await open(file, 'r+');
    await fh.write(Buffer.from([0x5a]), 0, 1, 1000);
    await fh.close();
    await assert.rejects(
      m.restore({ selector: { setId: backup.setId } }),
      (e: Error & { code?: string }) => e.code === 'E_REFUSED' && /would overwrite/.test(e.message),
    );
    assert.equal(checking().length, 0, 'refused without re-hashing the files');
    await assert.rejects(m.restore({ selector: { setId: backup.setId }, yes: true }), /file is corrupt/);
    assert.ok(checking().length >= 1);
    assert.deepEqual(await dumpCollection(client, 'chunks'), original.chunks, 'nothing was touched');
  });

  test('an API key is sent, never stored', async (t) => {
    const key = 'test-key-Zq9!';
    const { client, manager, config } = await world(t, { apiKey: key }, { QDRANT_API_KEY: key });
    await seedCollections(client, { papers: 5, chunks: 5 });
    const result = await manager.backupQdrant();
    assert.equal(result.status, 'ok');
    await client.deleteCollection('papers');
    await manager.restoreQdrant({ latest: true, collection: 'papers' });
    assert.equal((await client.count('papers', { exact: true })).count, 5);
    const { readFile } = await import('node:fs/promises');
    for (const f of await readdir(join(config.backupDir, 'sets'))) {
      assert.ok(
        !(await readFile(join(config.backupDir, 'sets', f), 'utf8')).includes(key),
        'key must not be in manifests',
      );
    }
  });

  test('full-storage snapshot is backed up and listed', async (t) => {
    const { client, manager } = await world(t);
    await seedCollections(client, { papers: 3, chunks: 3 });
    const r = await manager.backupQdrant({ full: true });
    assert.equal(r.status, 'ok', JSON.stringify(r.errors));
    assert.equal(r.artifacts[0]!.kind, 'qdrant-full');
    assert.deepEqual(r.artifacts[0]!.details?.collections, { chunks: 3, papers: 3 });
    await assert.rejects(
      manager.restoreQdrant({ file: r.artifacts[0]!.file, yes: true }),
      (e: Error & { hint?: string }) =>
        /full-storage/.test(e.message) && /--storage-snapshot/.test(e.hint ?? ''),
    );
  });
});
