/** Bench-local alternative to qnb's hashFile (src/core/transfer.ts). */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';

/**
 * sha256 and size of a file, read into one reused 1 MiB buffer: no new Buffer per chunk, so no
 * garbage for the GC to catch up with (qnb's hashFile allocates a fresh 1 MiB Buffer per read).
 */
export async function hashFileReusingBuffer(path: string): Promise<{ bytes: number; sha256: string }> {
  const fh = await open(path, 'r');
  const buf = Buffer.allocUnsafeSlow(1 << 20);
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      bytes += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return { bytes, sha256: hash.digest('hex') };
}
