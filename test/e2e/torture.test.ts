/**
 * The crash torture (bench/torture.ts) with a small N, so the class of bug "qnb killed at a bad
 * moment leaves Neo4j down, a valid-looking bad backup, a stuck lock or snapshot leftovers" stays
 * covered in CI. `npm run torture` runs the full 100 trials.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IN_CI } from '../helpers/components.js';
import { neo4jAvailable } from '../servers/neo4j/harness.js';

const avail = await neo4jAvailable();
if (!avail.ok && IN_CI) throw new Error(`Neo4j (Java + Maven) is required in CI: ${avail.hint}`);

const TORTURE = fileURLToPath(new URL('../../bench/torture.ts', import.meta.url));

describe('crash torture', { skip: avail.ok ? false : `Neo4j missing — ${avail.hint}` }, () => {
  test('8 trials of backup-all / restore / copy / prune killed with SIGKILL: 0 violations', {
    timeout: 40 * 60_000,
  }, async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', TORTURE, '--trials', '8', '--seed', '20261204', '--results', '-'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const code = await new Promise<number | null>((r) => child.on('close', r));
    assert.equal(code, 0, out);
    assert.match(out, /8 trials, seed 20261204, .* — 0 violations\./);
  });
});
