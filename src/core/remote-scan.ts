/**
 * Reads a copy destination as a repository: the same layout as the backups folder (`qdrant/`, `neo4j/`,
 * `sets/<id>.json`), judged by the same rules (`judgeArtifacts` in repository.ts). A set exists on
 * the destination only once its manifest is there (copy writes it last); an artifact is valid only when
 * that manifest has a complete entry for it, the object exists with the recorded size and no
 * recorded verification failed.
 */
import type { CopyBackend, ObjectInfo } from '../storage/backend.js';
import { toQnbError } from './errors.js';
import { storedObject } from './manifest.js';
import { judgeArtifacts, parseManifests, type RepoScan } from './repository.js';

/** Folder of set manifests on a destination. */
export const REMOTE_SETS = 'sets/';
/** The key of a set's manifest. */
export const setKey = (id: string) => `${REMOTE_SETS}${id}.json`;
/** Largest manifest qnb reads (a manifest is a few KiB). */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** How a destination's keys are shown: its location without the endpoint note (`s3://b/p`, `/mnt/usb`). */
export const displayBase = (backend: CopyBackend) => backend.name.replace(/ \(.*\)$/, '');

/** A remote scan plus every object on the destination by key. */
export interface RemoteScan extends RepoScan {
  objects: Map<string, ObjectInfo>;
}

/** Reads one object into a string (small objects only). */
export async function readText(backend: CopyBackend, key: string, signal?: AbortSignal): Promise<string> {
  const stream = await backend.get(key, signal ? { signal } : {});
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > MAX_MANIFEST_BYTES) {
      stream.destroy();
      throw new Error(`${key} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Runs `fn` over `items` with at most `limit` at once, keeping order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/**
 * Scans a copy destination. `base` is how keys are shown (a folder path or `s3://bucket/prefix`), used as
 * each artifact's `path`. Errors reaching the destination (credentials, missing bucket) are thrown.
 */
export async function scanRemote(
  backend: CopyBackend,
  base: string,
  signal?: AbortSignal,
): Promise<RemoteScan> {
  const objects = new Map<string, ObjectInfo>();
  for await (const o of backend.list('', signal ? { signal } : {})) objects.set(o.key, o);
  const manifestKeys = [...objects.keys()].filter((k) => /^sets\/[^/]+\.json$/.test(k));
  const texts = await mapLimit(manifestKeys, 8, async (key) => {
    try {
      return await readText(backend, key, signal);
    } catch (err) {
      const e = toQnbError(err, signal);
      // the destination failing to answer is its error, not a bad manifest (never "move it away")
      if (['E_INTERRUPTED', 'E_AUTH', 'E_CONNECT', 'E_SERVER'].includes(e.code)) throw e;
      return { error: e.message };
    }
  });
  const { sets, bad: badManifests } = parseManifests(
    manifestKeys.map((file, i) => ({ file, text: texts[i]! })),
  );
  const { artifacts, referenced } = judgeArtifacts(sets, {
    objectOf: storedObject,
    sizeOf: (key) => objects.get(key)?.size,
    show: (key) => `${base.replace(/\/+$/, '')}/${key}`,
    missing: 'missing on the copy target',
  });
  const unknownFiles = [...objects.keys()]
    .filter((k) => !referenced.has(k) && !manifestKeys.includes(k))
    .sort();
  return { sets, artifacts, unknownFiles, badManifests, objects };
}
