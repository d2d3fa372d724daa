/**
 * A bench-local copy of the built CLI (dist/) with small patches applied, to measure a proposed
 * src/ change end to end without touching src/. The copy lives in the bench's temp folder, with a
 * symlink to the project's node_modules so packages resolve as usual.
 *
 * Each patch is an exact string replacement in one dist file; if the text is not found (src/
 * changed), the patch is reported as not applicable and the variant is skipped.
 */
import { cp, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Patch {
  /** File under dist/. */
  file: string;
  find: string;
  replace: string;
}

/** Patches by name; each names the src/ change it stands for. */
export const PATCHES: Record<string, { describe: string; edits: Patch[] }> = {
  /**
   * streamToFile: 1 MiB buffers on the hashing Transform and the WriteStream (default 16 KiB), so
   * 64 KiB socket chunks are batched into writev calls instead of one fs.write per chunk.
   */
  hwm1m: {
    describe:
      'src/core/transfer.ts: `hashingCounter` Transform and `streamToFile` WriteStream get `highWaterMark: 1 << 20`',
    edits: [
      {
        file: 'core/transfer.js',
        find: 'const t = new Transform({',
        replace: 'const t = new Transform({ highWaterMark: 1 << 20,',
      },
      {
        file: 'core/transfer.js',
        find: "createWriteStream(path, { flags: 'wx', mode: FILE_MODE, flush: true })",
        replace:
          "createWriteStream(path, { flags: 'wx', mode: FILE_MODE, flush: true, highWaterMark: 1 << 20 })",
      },
    ],
  },
  /**
   * restore: upload the file without hashing it a second time on the way out. The manifest
   * sha256 is still checked before the upload (hashFile) and sent as `checksum=`, which Qdrant
   * verifies before it recovers anything.
   */
  'upload-nohash': {
    describe:
      'src/targets/qdrant/qdrant-restore.ts: upload `createReadStream(filePath)` without `.pipe(hashingCounter)` (the server checks `checksum=`)',
    edits: [
      {
        file: 'targets/qdrant/qdrant-restore.js',
        find: 'createReadStream(filePath, { highWaterMark: 1 << 20 }).pipe(counter)',
        replace: 'createReadStream(filePath, { highWaterMark: 1 << 20 })',
      },
      {
        file: 'targets/qdrant/qdrant-restore.js',
        find: 'const sent = counter.result();',
        replace: 'const sent = { bytes: artifact.bytes, sha256: artifact.sha256 };',
      },
    ],
  },
  /** 64 KiB file reads (Node's default) instead of 1 MiB in hashFile and the restore upload. */
  read64k: {
    describe:
      'src/core/transfer.ts `hashFile` and src/targets/qdrant/qdrant-restore.ts: `createReadStream(…, { highWaterMark: 64 * 1024 })` instead of `1 << 20`',
    edits: [
      {
        file: 'core/transfer.js',
        find: 'createReadStream(path, { highWaterMark: 1 << 20 })',
        replace: 'createReadStream(path, { highWaterMark: 64 * 1024 })',
      },
      {
        file: 'targets/qdrant/qdrant-restore.js',
        find: 'createReadStream(filePath, { highWaterMark: 1 << 20 })',
        replace: 'createReadStream(filePath, { highWaterMark: 64 * 1024 })',
      },
    ],
  },
};

/**
 * Copies `distDir` to `<dest>/dist`, applies the named patches and returns the path of the
 * patched `cli/main.js`, or an error message when a patch does not apply.
 */
export async function makePatchedCli(
  repoDir: string,
  dest: string,
  names: string[],
): Promise<{ bin: string } | { error: string }> {
  const dist = join(dest, 'dist');
  await cp(join(repoDir, 'dist'), dist, { recursive: true });
  await writeFile(join(dest, 'package.json'), await readFile(join(repoDir, 'package.json')));
  await symlink(join(repoDir, 'node_modules'), join(dest, 'node_modules'), 'dir');
  for (const name of names) {
    const patch = PATCHES[name];
    if (!patch) return { error: `unknown patch ${name}` };
    for (const e of patch.edits) {
      const path = join(dist, e.file);
      const text = await readFile(path, 'utf8');
      if (!text.includes(e.find)) return { error: `patch ${name}: "${e.find}" not found in dist/${e.file}` };
      await writeFile(path, text.replace(e.find, e.replace));
    }
  }
  return { bin: join(dist, 'cli', 'main.js') };
}
