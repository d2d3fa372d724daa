/**
 * An in-memory copy destination for unit tests and library callers' tests. Same contract and the same
 * conformance suite as the real backends; nothing survives the process.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { InterruptedError, isAbort, NotFoundError } from '../../core/errors.js';
import { type CopyBackend, checkKey, checkStreamed, type ObjectInfo } from '../backend.js';

/** A memory backend; `objects` is exposed so tests can look at (or damage) what is stored. */
export interface MemoryBackend extends CopyBackend {
  readonly objects: Map<string, { data: Buffer; sha256: string; modified: Date }>;
}

/** Creates an empty memory backend called `name`. */
export function createMemoryBackend(name = 'memory://'): MemoryBackend {
  const objects = new Map<string, { data: Buffer; sha256: string; modified: Date }>();
  return {
    name,
    objects,
    properties: () => ({
      kind: 'memory',
      location: name,
      storesSha256: true,
      verification: 'sha256 of the bytes received, checked before they are stored',
    }),
    async put(key, body, opts) {
      checkKey(key);
      const hash = createHash('sha256');
      const chunks: Buffer[] = [];
      let bytes = 0;
      try {
        opts.signal?.throwIfAborted();
        for await (const chunk of body) {
          opts.signal?.throwIfAborted();
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          chunks.push(chunk as Buffer);
          opts.onProgress?.(bytes);
        }
      } catch (err) {
        body.destroy();
        if (isAbort(err, opts.signal)) throw new InterruptedError();
        throw err;
      }
      checkStreamed(`copy ${key} to ${name}`, { bytes, sha256: hash.digest('hex') }, opts);
      objects.set(key, { data: Buffer.concat(chunks), sha256: opts.sha256, modified: new Date() });
      return { key, size: opts.size, sha256: opts.sha256 };
    },
    async get(key) {
      checkKey(key);
      const o = objects.get(key);
      if (!o) throw new NotFoundError(`copy target ${name}: ${key} not found`);
      return Readable.from([o.data]);
    },
    async stat(key) {
      checkKey(key);
      const o = objects.get(key);
      return o ? { key, size: o.data.length, sha256: o.sha256, modified: o.modified } : undefined;
    },
    async *list(prefix) {
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix)).sort();
      for (const key of keys) {
        const o = objects.get(key);
        if (o) yield { key, size: o.data.length, modified: o.modified } satisfies ObjectInfo;
      }
    },
    async remove(key) {
      checkKey(key);
      objects.delete(key);
    },
    async close() {},
  };
}

/** sha256 hex of a buffer (test helper). */
export const sha256Hex = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
