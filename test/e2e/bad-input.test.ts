/**
 * Guarantee 7: bad input gives one clear line naming the thing and the fix, a non-zero exit,
 * no stack trace, and loses nothing. Secrets never show up in output or manifests.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { createQnbWorld, errorLines, hasStackTrace } from '../helpers/qnb-world.js';
import { tempDir } from '../helpers/tmp.js';

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('bad input', () => {
  test('unreachable Qdrant URL', async (t) => {
    const cwd = await tempDir(t);
    const port = await closedPort();
    const run = await runQnb(['backup-qdrant'], {
      cwd,
      env: qnbEnv({ QDRANT_URL: `http://127.0.0.1:${port}` }),
    });
    assert.equal(run.code, 1);
    assert.deepEqual(errorLines(run), [
      `✘ qdrant http://127.0.0.1:${port}: read server version: cannot reach the server (ECONNREFUSED) — is Qdrant running? check QDRANT_URL`,
    ]);
    assert.ok(!hasStackTrace(run));
  });

  test('invalid config value fails before anything is touched', async (t) => {
    const cwd = await tempDir(t);
    const run = await runQnb(['backup-qdrant'], { cwd, env: qnbEnv({ QDRANT_URL: 'localhost:6333' }) });
    assert.equal(run.code, 2);
    assert.equal(errorLines(run).length, 1);
    assert.match(run.stderr, /^✘ QDRANT_URL: .* — use a URL like http:\/\/localhost:6333$/m);
    assert.deepEqual(await readdir(cwd), [], 'no backups folder created');
  });

  test('unknown flag is a usage error', async (t) => {
    const cwd = await tempDir(t);
    const run = await runQnb(['backup-qdrant', '--colection', 'x'], { cwd, env: qnbEnv() });
    assert.equal(run.code, 2);
    assert.match(run.stderr, /unknown option '--colection'/);
  });

  test('wrong API key, and a read-only key for a backup', async (t) => {
    const world = await createQnbWorld(t, { apiKey: 'right-key-123', readOnlyApiKey: 'read-only-456' });
    const wrong = await world.qnb(['backup-qdrant'], { QDRANT_API_KEY: 'wrong-key-789' });
    assert.equal(wrong.code, 1);
    assert.equal(errorLines(wrong).length, 1);
    assert.match(wrong.stderr, /API key missing or rejected \(401\) — set QDRANT_API_KEY/);
    assert.ok(!wrong.stderr.includes('wrong-key-789'));
    const ro = await world.qnb(['backup-qdrant', '-c', 'papers'], { QDRANT_API_KEY: 'read-only-456' });
    assert.equal(ro.code, 1);
    assert.match(ro.stdout, /forbidden \(403\)/);
    assert.equal((await world.listed()).filter((b) => b.valid).length, 0);
  });

  test('unknown collection names the existing ones', async (t) => {
    const world = await createQnbWorld(t);
    const run = await world.qnb(['backup-qdrant', '-c', 'papers', '-c', 'nope']);
    assert.equal(run.code, 1);
    assert.deepEqual(errorLines(run), [
      `✘ qdrant ${world.server.url}: collection "nope" not found — existing collections: papers, chunks`,
    ]);
    assert.equal((await world.listed()).length, 0, 'preflight failed before any snapshot');
  });

  test('missing file, file outside any manifest, --latest with nothing', async (t) => {
    const world = await createQnbWorld(t);
    const missing = await world.qnb(['restore-qdrant', 'nothing-here.snapshot']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^✘ nothing-here\.snapshot: no such backup file — run `qnb list`/m);
    await writeFile(join(world.cwd, 'stray.snapshot'), 'not a backup');
    const stray = await world.qnb(['restore-qdrant', 'stray.snapshot']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /not in any backup manifest.* — pass --force/);
    const none = await world.qnb(['restore-qdrant', '--latest']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no valid Qdrant backup/);
    const neither = await world.qnb(['restore-qdrant']);
    assert.equal(neither.code, 2);
    for (const r of [missing, stray, none, neither]) {
      assert.equal(errorLines(r).length, 1);
      assert.ok(!hasStackTrace(r));
    }
  });

  test('restore-neo4j: the refusal names only options restore-neo4j has; a forced non-dump is refused untouched', async (t) => {
    const world = await createQnbWorld(t);
    await writeFile(
      join(world.cwd, 'stray.dump'),
      'Warning: Some files inside "/data" are not writable\nDZV1',
    );
    const stray = await world.qnb(['restore-neo4j', 'stray.dump']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /not in any backup manifest.* — pass --force to restore it anyway/);
    const help = await world.qnb(['restore-neo4j', '--help']);
    for (const flag of stray.stderr.match(/--[a-z-]+/g) ?? []) assert.ok(help.stdout.includes(flag), flag);
    // not a dump (the bytes an image's entrypoint printed): refused before Neo4j is reached at all
    const forced = await world.qnb(['restore-neo4j', 'stray.dump', '--force', '--yes'], {
      NEO4J_URI: 'bolt://127.0.0.1:9',
    });
    assert.notEqual(forced.code, 0);
    assert.match(forced.stderr, /stray\.dump is not a Neo4j dump: it starts with "Warning: Some files/);
    for (const r of [stray, forced]) {
      assert.equal(errorLines(r).length, 1);
      assert.ok(!hasStackTrace(r));
    }
  });

  test('a forced restore of a file that is not a snapshot fails cleanly on the server side', async (t) => {
    const world = await createQnbWorld(t);
    await writeFile(join(world.cwd, 'junk-backup-20250101-000000.snapshot'), 'definitely not a tar');
    const run = await world.qnb([
      'restore-qdrant',
      'junk-backup-20250101-000000.snapshot',
      '--force',
      '--as',
      'junk',
    ]);
    assert.equal(run.code, 1, run.stderr);
    assert.equal(errorLines(run).length, 1);
    assert.ok(!hasStackTrace(run));
    assert.equal(await world.client.collectionExists('junk').then((r) => r.exists), false);
  });

  test('--json errors are machine-readable and secrets stay out of everything', async (t) => {
    const key = 'sup3r-s3cret-k3y';
    const world = await createQnbWorld(t, { apiKey: key });
    const ok = await world.qnb(['backup-qdrant', '--json']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).status, 'ok');
    const bad = await world.qnb(['restore-qdrant', '--json', '--latest']);
    const parsed = JSON.parse(bad.stdout) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(parsed.ok, false);
    assert.equal(parsed.error.code, 'E_USAGE');
    for (const r of [ok, bad, await world.qnb(['list', '--json']), await world.qnb(['verify'])]) {
      assert.ok(!(r.stdout + r.stderr).includes(key), 'key in output');
    }
    for (const f of await readdir(join(world.backupDir, 'sets'))) {
      assert.ok(!(await readFile(join(world.backupDir, 'sets', f), 'utf8')).includes(key), 'key in manifest');
    }
  });
});
