/**
 * The CopyBackend conformance suite on a folder target, including a read-only file system and a
 * full disk (tiny tmpfs mounts, as root; a chmod'ed folder stands in for read-only otherwise).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TEMP_PREFIX } from '../../src/core/fs-safe.js';
import { createDirBackend } from '../../src/storage/dir/dir-backend.js';
import { tempDir } from '../helpers/tmp.js';
import { copyBackendSuite } from '../suites/copy-backend-suite.js';

const isRoot = process.getuid?.() === 0;

async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.name.startsWith(TEMP_PREFIX)) out.push(join(e.parentPath ?? '', e.name));
  }
  return out;
}

/** A new folder with a tmpfs mounted on it; unmounted, then removed, after the test. */
async function tmpfsDir(t: { after(fn: () => unknown): void }, options: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-copy-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  t.after(async () => {
    execFileSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

copyBackendSuite('dir', {
  open: async (t) => createDirBackend({ root: await tempDir(t, 'qnb-copy-dir-') }),
  getToFile: true,
  leftovers: (b) => tempFiles(b.properties().location),
  missingContainer: async (t) => createDirBackend({ root: join(await tempDir(t), 'not-mounted') }),
  async readOnly(t) {
    if (isRoot) return createDirBackend({ root: await tmpfsDir(t, 'ro,size=1m,mode=0700') });
    const root = await tempDir(t, 'qnb-copy-ro-');
    await chmod(root, 0o500);
    t.after(() => chmod(root, 0o700));
    return createDirBackend({ root });
  },
  async fullDisk(t) {
    if (!isRoot) return 'needs root to mount a small tmpfs';
    const root = await tmpfsDir(t, 'size=4m,mode=0700');
    return { backend: createDirBackend({ root }), freeBytes: 4 * 1024 * 1024 };
  },
  extra() {
    test('dir: a stale temp file of the same name is removed by the next put; other files are not', async (t) => {
      const root = await tempDir(t);
      await mkdir(join(root, 'qdrant'));
      await writeFile(join(root, 'qdrant', `${TEMP_PREFIX}dead-a.snapshot`), 'partial');
      await writeFile(join(root, 'qdrant', 'mine.txt'), 'not qnb');
      const b = createDirBackend({ root });
      const { createHash } = await import('node:crypto');
      const { Readable } = await import('node:stream');
      await b.put('qdrant/a.snapshot', Readable.from([Buffer.from('x')]), {
        size: 1,
        sha256: createHash('sha256').update('x').digest('hex'),
      });
      assert.deepEqual((await readdir(join(root, 'qdrant'))).sort(), ['a.snapshot', 'mine.txt']);
    });

    test('dir: the root is never created (an unmounted drive stays unmounted)', async (t) => {
      const root = join(await tempDir(t), 'usb');
      const b = createDirBackend({ root });
      await assert.rejects(async () => {
        for await (const _ of b.list('')) {
          // nothing
        }
      }, /folder does not exist/);
      assert.deepEqual(await readdir(join(root, '..')), []);
    });
  },
});
