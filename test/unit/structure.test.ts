/**
 * `npm run check:structure` (scripts/check-structure.mjs): this repository passes it, and on small
 * fixture trees it fails on each rule it holds — an import cycle, a file over 350 lines, core
 * importing a database, the targets importing each other, a command importing a command.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../helpers/tmp.js';

const SCRIPT = fileURLToPath(new URL('../../scripts/check-structure.mjs', import.meta.url));

function check(...args: string[]) {
  const r = spawnSync(process.execPath, [SCRIPT, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Writes `files` (path under the fixture root → content) and checks the fixture. */
async function checkTree(dir: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return check('--root', dir);
}

const CLEAN: Record<string, string> = {
  'src/core/manager.ts': "import type { Target } from '../targets/target.js';\nexport const m = 1;\n",
  'src/targets/target.ts': 'export interface Target { kind: string }\n',
  'src/targets/qdrant/qdrant-target.ts': "import type { Target } from '../target.js';\nexport const q = 1;\n",
  'src/targets/neo4j/neo4j-target.ts': "import type { Target } from '../target.js';\nexport const n = 1;\n",
  'src/cli/commands/list.ts': "import { m } from '../../core/manager.js';\nexport const l = m;\n",
  'src/cli/main.ts': "export const load = () => import('./commands/list.js');\n",
};

test('this repository passes its structure check (known violations only through the allow-list)', () => {
  const r = check();
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^structure ok/);
});

test('a clean tree passes; imports in comments and strings do not count', async (t) => {
  const dir = await tempDir(t);
  const r = await checkTree(dir, {
    ...CLEAN,
    'src/core/notes.ts':
      "// import { q } from '../targets/qdrant/qdrant-target.js';\nexport const s = \"import('../targets/neo4j/neo4j-target.js')\";\n",
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /structure ok: 7 files, no import cycles/);
});

test('each rule fails the check with one line naming the files', async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    [
      'cycle (type-only imports count)',
      {
        'src/core/a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
        'src/core/b.ts': "import { a } from './c.js';\nexport type B = number;\nexport const x = a;\n",
        'src/core/c.ts': "export const a = 1;\nexport const lazy = () => import('./a.js');\n",
      },
      '✘ cycle: src/core/a.ts ↔ src/core/b.ts ↔ src/core/c.ts\n    e.g. src/core/a.ts → src/core/b.ts → src/core/c.ts → src/core/a.ts',
    ],
    [
      'long file',
      { 'src/core/long.ts': 'export const x = 1;\n'.repeat(351) },
      '✘ too long: src/core/long.ts has 351 lines (max 350)',
    ],
    [
      'core imports a database',
      { 'src/core/run.ts': "import { q } from '../targets/qdrant/qdrant-target.js';\nexport const r = q;\n" },
      '✘ core imports a database: src/core/run.ts → src/targets/qdrant/qdrant-target.ts',
    ],
    [
      'targets import each other',
      { 'src/targets/neo4j/neo4j-json.ts': "export { q } from '../qdrant/qdrant-target.js';\n" },
      '✘ targets import each other: src/targets/neo4j/neo4j-json.ts → src/targets/qdrant/qdrant-target.ts',
    ],
    [
      'command imports a command',
      { 'src/cli/commands/copy.ts': "import { l } from './list.js';\nexport const c = l;\n" },
      '✘ command imports a command: src/cli/commands/copy.ts → src/cli/commands/list.ts',
    ],
  ];
  for (const [what, extra, line] of cases) {
    const dir = join(await tempDir(t), what.replace(/\W+/g, '-'));
    const r = await checkTree(dir, { ...CLEAN, ...extra });
    assert.equal(r.code, 1, `${what}: ${r.out}`);
    assert.ok(r.out.startsWith(`${line}\n`), `${what}: ${r.out}`);
    assert.match(r.out, /structure check failed: 1 violation\(s\)/, what);
  }
});

test('a file of exactly 350 lines passes', async (t) => {
  const r = await checkTree(await tempDir(t), {
    ...CLEAN,
    'src/core/edge.ts': 'export const x = 1;\n'.repeat(350),
  });
  assert.equal(r.code, 0, r.out);
});
