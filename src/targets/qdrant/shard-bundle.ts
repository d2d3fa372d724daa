/**
 * The file of a cluster backup: a plain POSIX (ustar) tar holding `qnb-cluster.json` (the
 * topology) and one `shard-<id>.snapshot` per shard, each a shard snapshot exactly as Qdrant
 * served it. One file per backup keeps list, retention, copy and verify unchanged; `tar -xf`
 * opens it without qnb. Written streamed; read by offset (no extraction).
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';

const BLOCK = 512;

/** One member to write. */
export interface BundleInput {
  name: string;
  size: number;
  /** The member's bytes (a file stream or a buffer). */
  open: () => Readable | Buffer;
}

/** One member of a bundle on disk. */
export interface BundleEntry {
  name: string;
  offset: number;
  size: number;
}

function header(name: string, size: number): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar member name too long: ${name}`);
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write(
    `${Math.floor(Date.now() / 1000)
      .toString(8)
      .padStart(11, '0')}\0`,
    136,
  );
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/** The bytes of a tar of `inputs`, streamed. */
export async function* bundleStream(inputs: BundleInput[]): AsyncGenerator<Buffer> {
  for (const input of inputs) {
    yield header(input.name, input.size);
    const body = input.open();
    let n = 0;
    if (Buffer.isBuffer(body)) {
      n = body.length;
      yield body;
    } else {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        n += chunk.length;
        yield chunk;
      }
    }
    if (n !== input.size) throw new Error(`${input.name}: ${n} bytes, expected ${input.size}`);
    const pad = (BLOCK - (n % BLOCK)) % BLOCK;
    if (pad) yield Buffer.alloc(pad);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The members of a bundle file (names, offsets, sizes), read from the headers. */
export async function readBundleIndex(path: string): Promise<BundleEntry[]> {
  const fh = await open(path, 'r');
  try {
    const { size: total } = await fh.stat();
    const out: BundleEntry[] = [];
    const h = Buffer.alloc(BLOCK);
    let pos = 0;
    while (pos + BLOCK <= total) {
      const { bytesRead } = await fh.read(h, 0, BLOCK, pos);
      if (bytesRead < BLOCK || h.every((b) => b === 0)) break;
      const name = h.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      const size = Number.parseInt(h.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim(), 8);
      if (!name || !Number.isSafeInteger(size) || pos + BLOCK + size > total) {
        throw new Error(`${path}: not a qnb cluster backup (bad tar header at byte ${pos})`);
      }
      out.push({ name, offset: pos + BLOCK, size });
      pos += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    }
    return out;
  } finally {
    await fh.close();
  }
}

/** A stream of one member's bytes. */
export function readBundleMember(path: string, entry: BundleEntry): Readable {
  if (entry.size === 0) return createReadStream(path, { start: 1, end: 0 });
  return createReadStream(path, { start: entry.offset, end: entry.offset + entry.size - 1 });
}
