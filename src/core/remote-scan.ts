/**
 * Reads a copy target as a repository: the same layout as the backups folder (`qdrant/`, `neo4j/`,
 * `sets/<id>.json`), so the same rules decide what is valid. A set exists on the target only once
 * its manifest is there (copy writes it last); an artifact is valid only when that manifest has a
 * complete entry for it and the object exists with the recorded size.
 */
import type { CopyBackend, ObjectInfo } from '../storage/backend.js';
import { toQnbError } from './errors.js';
import { isCompleteArtifact, parseManifest, type SetManifest, storedObject } from './manifest.js';
import type { RepoArtifact, RepoScan } from './repository.js';

/** Folder of set manifests on a target. */
export const REMOTE_SETS = 'sets/';
/** The key of a set's manifest. */
export const setKey = (id: string) => `${REMOTE_SETS}${id}.json`;
/** Largest manifest qnb reads (a manifest is a few KiB). */
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/** How a target's keys are shown: its location without the endpoint note (`s3://b/p`, `/mnt/usb`). */
export const displayBase = (backend: CopyBackend) => backend.name.replace(/ \(.*\)$/, '');

/** A remote scan plus every object on the target by key. */
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
 * Scans a copy target. `base` is how keys are shown (a folder path or `s3://bucket/prefix`), used as
 * each artifact's `path`. Errors reaching the target (credentials, missing bucket) are thrown.
 */
export async function scanRemote(
  backend: CopyBackend,
  base: string,
  signal?: AbortSignal,
): Promise<RemoteScan> {
  const objects = new Map<string, ObjectInfo>();
  for await (const o of backend.list('', signal ? { signal } : {})) objects.set(o.key, o);
  const manifestKeys = [...objects.keys()].filter((k) => /^sets\/[^/]+\.json$/.test(k));
  const sets: SetManifest[] = [];
  const badManifests: RepoScan['badManifests'] = [];
  const texts = await mapLimit(manifestKeys, 8, async (key) => {
    try {
      return await readText(backend, key, signal);
    } catch (err) {
      const e = toQnbError(err, signal);
      if (e.code === 'E_INTERRUPTED' || e.code === 'E_AUTH' || e.code === 'E_CONNECT') throw e;
      return { error: e.message };
    }
  });
  manifestKeys.forEach((key, i) => {
    const text = texts[i]!;
    const parsed = typeof text === 'string' ? parseManifest(text) : text.error;
    if (typeof parsed === 'string') badManifests.push({ file: key, problem: parsed });
    else sets.push(parsed);
  });
  const referenced = new Set<string>();
  const artifacts: RepoArtifact[] = [];
  const show = (key: string) => `${base.replace(/\/+$/, '')}/${key}`;
  for (const set of sets) {
    for (const a of set.artifacts) {
      const stored = storedObject(a);
      referenced.add(stored.key);
      const o = objects.get(stored.key);
      let problem: string | undefined;
      if (!isCompleteArtifact(a)) problem = 'incomplete (the run that wrote it did not finish)';
      else if (!o) problem = 'missing on the copy target';
      else if (o.size !== stored.bytes) problem = `size ${o.size} differs from manifest ${stored.bytes}`;
      artifacts.push({
        set,
        artifact: a,
        path: show(stored.key),
        createdAt: new Date(a.finishedAt || set.startedAt),
        valid: problem === undefined,
        ...(problem ? { problem } : {}),
      });
    }
  }
  artifacts.sort(
    (x, y) => y.createdAt.getTime() - x.createdAt.getTime() || y.artifact.file.localeCompare(x.artifact.file),
  );
  const unknownFiles = [...objects.keys()]
    .filter((k) => !referenced.has(k) && !manifestKeys.includes(k))
    .sort();
  return { sets, artifacts, unknownFiles, badManifests, objects };
}
