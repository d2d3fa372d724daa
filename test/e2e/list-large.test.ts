/**
 * `qnb list` over 1,000 backups through a pipe: every byte arrives (the process exits only
 * after stdout is flushed), and every backup is listed.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { qnbEnv, runQnb } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

test('list --json and list over 1,000 backups are complete when read through a pipe', async (t) => {
  const cwd = await tempDir(t);
  const root = join(cwd, 'backups');
  for (const d of ['qdrant', 'neo4j', 'sets']) await mkdir(join(root, d), { recursive: true });
  const base = Date.parse('2026-01-01T00:00:00Z');
  for (let i = 0; i < 500; i++) {
    const at = new Date(base + i * 3.6e6);
    const id = `set-${String(i).padStart(4, '0')}`;
    const artifacts = await Promise.all(
      ['docs', 'chunks'].map(async (name) => {
        const file = `qdrant/${name}-backup-${i}.snapshot`;
        const body = `${name}-${i}`;
        await writeFile(join(root, file), body);
        return {
          target: 'qdrant',
          kind: 'qdrant-collection',
          name,
          file,
          status: 'ok',
          bytes: body.length,
          sha256: createHash('sha256').update(body).digest('hex'),
          serverChecksum: null,
          checksumSource: 'self',
          serverVersion: '1.19.0',
          counts: { points: 100 + i },
          startedAt: at.toISOString(),
          finishedAt: at.toISOString(),
          durationMs: 5,
        };
      }),
    );
    const set = {
      format: 'qnb-set',
      version: 1,
      id,
      command: 'backup-all',
      reason: 'backup',
      status: 'ok',
      host: 'h',
      pid: 1,
      qnbVersion: '0.1.0',
      startedAt: at.toISOString(),
      finishedAt: at.toISOString(),
      artifacts,
      errors: [],
    };
    await writeFile(join(root, 'sets', `${id}.json`), JSON.stringify(set));
  }
  const json = await runQnb(['list', '--json'], { cwd, env: qnbEnv() });
  assert.equal(json.code, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as { backups: unknown[] };
  assert.equal(parsed.backups.length, 1000);
  const text = await runQnb(['list'], { cwd, env: qnbEnv() });
  assert.equal((text.stdout.match(/^ {2}• /gm) ?? []).length, 1000);
  assert.match(text.stdout, /Neo4j Dumps:\n {2}\(none\)$/m);
});
