/**
 * `restore-… --from DEST`: brings one artifact from a copy destination back into the local backups
 * folder, verified, so the normal restore (which re-checks it against its manifest) runs on it.
 * The file streams to a temporary name, its sha256 must equal the destination's manifest, then it is
 * recorded in the local set of the same id (created from the destination's manifest when missing) and
 * renamed into place — the same pending → rename → ok steps as a backup (set-lifecycle.ts).
 */
import { rm } from 'node:fs/promises';
import { basename } from 'node:path';
import type { CopyBackend } from '../storage/backend.js';
import type { TargetContext } from '../targets/target.js';
import { decryptToFile } from './age.js';
import { ConfigError, NotFoundError, QnbError, VerificationError } from './errors.js';
import { tempPathFor } from './fs-safe.js';
import {
  type ArtifactKind,
  type ArtifactRecord,
  type SetManifest,
  storedObject,
  type TargetKind,
  withoutKept,
} from './manifest.js';
import { scanRemote } from './remote-scan.js';
import type { RepoArtifact, Repository } from './repository.js';
import { getDecrypted } from './ring-age.js';
import { createSetSink } from './set-lifecycle.js';
import { hashFile, type StreamResult, streamToFile } from './transfer.js';

/** Which artifact to bring back. */
export interface FetchSelection {
  target: TargetKind;
  kinds: ArtifactKind[];
  /** A file name or path as the destination lists it. */
  file?: string;
  /** The newest valid backup (of `name`). */
  latest?: boolean;
  name?: string;
  /** `--collection`, for messages; none where the name comes from config (Neo4j). */
  nameFlag?: string;
  command: string;
}

/** What fetch did: the artifact's path relative to the backups folder. */
export interface FetchResult {
  file: string;
  setId: string;
  /** False when the local backups folder already held the same verified file. */
  fetched: boolean;
  bytes: number;
}

function pick(artifacts: RepoArtifact[], sel: FetchSelection, where: string): RepoArtifact {
  const ours = artifacts.filter(
    (a) => a.artifact.target === sel.target && sel.kinds.includes(a.artifact.kind),
  );
  if (sel.file) {
    const norm = sel.file.replace(/\\/g, '/');
    const hits = ours.filter((a) => a.artifact.file === norm || basename(a.artifact.file) === basename(norm));
    const hit = hits.find((a) => a.valid) ?? hits[0];
    if (!hit) throw new NotFoundError(`${sel.file}: not on ${where}`, `run \`qnb list --remote ${where}\``);
    if (!hit.valid)
      throw new QnbError('E_REFUSED', `${sel.file} on ${where} is not a valid copy (${hit.problem})`, {
        hint: 'pick another copy: `qnb list --remote TARGET`',
      });
    return hit;
  }
  if (!sel.latest)
    throw new QnbError('E_USAGE', `${sel.command} --from: name a backup FILE or pass --latest`, {
      hint: `run \`qnb list --remote ${where}\``,
    });
  const pool = ours.filter((a) => a.valid && (!sel.name || a.artifact.name === sel.name));
  if (pool.length === 0)
    throw new NotFoundError(
      `no valid ${sel.target === 'qdrant' ? 'Qdrant' : 'Neo4j'} backup${sel.name ? ` of "${sel.name}"` : ''} on ${where}`,
      `run \`qnb list --remote ${where}\``,
    );
  const names = [...new Set(pool.map((a) => a.artifact.name))];
  if (names.length > 1)
    throw new QnbError('E_USAGE', `${sel.command} --latest: backups of several exist (${names.join(', ')})`, {
      hint: sel.nameFlag ? `pick one with ${sel.nameFlag} NAME` : 'name the backup FILE',
    });
  return pool[0]!;
}

/** Brings the selected artifact into the local repository. Call while holding the repository lock. */
export async function fetchArtifact(
  repo: Repository,
  backend: CopyBackend,
  base: string,
  sel: FetchSelection,
  ctx: TargetContext,
  identities?: readonly string[],
): Promise<FetchResult> {
  const remote = await scanRemote(backend, base, ctx.signal);
  return fetchChosen(repo, backend, pick(remote.artifacts, sel, base), ctx, identities);
}

/**
 * Brings every valid artifact of one set (by id, or the newest complete `backup` set) into the
 * local repository, for `restore SET --from`. Returns the set id and what was fetched.
 */
export async function fetchSet(
  repo: Repository,
  backend: CopyBackend,
  base: string,
  sel: {
    setId?: string;
    latest?: boolean;
    force?: boolean;
    /** Which entries the restore would take (a configured target's kind); the others do not count. */
    restorable?: (a: ArtifactRecord) => boolean;
  },
  ctx: TargetContext,
  identities?: readonly string[],
): Promise<{ setId: string; files: FetchResult[] }> {
  const remote = await scanRemote(backend, base, ctx.signal);
  // a copy that is not valid there does not count when the backups folder holds the same file valid
  const local = (await repo.scan()).artifacts.filter((a) => a.valid);
  const held = (a: RepoArtifact) =>
    local.some((x) => x.artifact.file === a.artifact.file && x.artifact.sha256 === a.artifact.sha256);
  const ofSet = (id: string) =>
    remote.artifacts.filter(
      (a) => a.set.id === id && a.artifact.status === 'ok' && (sel.restorable?.(a.artifact) ?? true),
    );
  const validOf = (id: string) => ofSet(id).filter((a) => a.valid);
  let set: SetManifest | undefined;
  if (sel.setId) {
    set = remote.sets.find((s) => s.id === sel.setId);
    if (!set)
      throw new NotFoundError(
        `backup set ${sel.setId} not found on ${base}`,
        `run \`qnb list --remote ${base} --json\``,
      );
  } else if (sel.latest) {
    // as a local --latest: a set with a copy that is missing, resized or failed its check is passed over
    const sets = remote.sets
      .filter((s) => s.reason === 'backup' && s.status === 'ok' && validOf(s.id).length > 0)
      .filter((s) => ofSet(s.id).every((a) => a.valid || held(a)))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    const both = (s: SetManifest) =>
      ['qdrant', 'neo4j'].every((t) => validOf(s.id).some((a) => a.artifact.target === t));
    set = sets.find(both) ?? sets[0];
    if (!set) throw new NotFoundError(`no complete, valid backup set on ${base}`, 'run `qnb copy` first');
  } else {
    throw new QnbError('E_USAGE', 'restore --from: name a backup SET id or pass --latest', {
      hint: `run \`qnb list --remote ${base} --json\` to see set ids`,
    });
  }
  const chosen = validOf(set.id);
  if (chosen.length === 0) throw new NotFoundError(`backup set ${set.id} on ${base} holds no valid copy`);
  // a set restored in part would leave the other stores as they are, with nothing said
  const bad = ofSet(set.id).filter((a) => !a.valid && !held(a));
  if (bad.length > 0) {
    const what = bad.map((a) => `${a.artifact.file} (${a.problem})`).join('; ');
    if (!sel.force)
      throw new QnbError(
        'E_REFUSED',
        `backup set ${set.id} on ${base} is not valid: ${what}; nothing was restored`,
        {
          hint: 'restore an older set (`qnb list --remote DEST`), or pass --force to restore the rest of it',
        },
      );
    for (const a of bad)
      ctx.reporter.emit({
        type: 'warning',
        target: a.artifact.target,
        name: a.artifact.name,
        message: `${a.artifact.file} is not valid on ${base} (${a.problem}); not restored (--force)`,
      });
  }
  const files: FetchResult[] = [];
  for (const a of chosen) files.push(await fetchChosen(repo, backend, a, ctx, identities));
  return { setId: set.id, files };
}

/**
 * Streams a copy into `tmp` (decrypting an encrypted one with `identities`) and checks it: the
 * stored object against its recorded size and sha256, the plain bytes against the backup's.
 */
async function download(
  backend: CopyBackend,
  chosen: RepoArtifact,
  tmp: string,
  ctx: TargetContext,
  identities: readonly string[] | undefined,
): Promise<StreamResult> {
  const a = chosen.artifact;
  const stored = storedObject(a);
  const encrypted = a.stored?.encryption === 'age';
  if (encrypted && !identities?.length)
    throw new ConfigError(
      `${chosen.path} is encrypted with age; qnb needs the identity to restore it`,
      'set QNB_AGE_IDENTITY_FILE to the key file (age-keygen) whose public key is in QNB_AGE_RECIPIENTS',
    );
  const opts = {
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    onProgress: (n: number) =>
      ctx.reporter.emit({
        type: 'transfer-progress',
        direction: 'download',
        name: a.name,
        bytes: n,
        totalBytes: a.bytes,
      }),
  } as const;
  const corrupt = (why: string) =>
    new VerificationError(
      `${chosen.path}: the copy is corrupt (${why}); nothing was restored`,
      'restore an older copy: `qnb list --remote TARGET`',
    );
  const get = () => backend.get(stored.key, ctx.signal ? { signal: ctx.signal } : {});
  let got: StreamResult | undefined;
  if (encrypted) {
    // the backend's own way (ring-age.ts), else its stream; both check every chunk's tag
    const d =
      (await getDecrypted(backend, stored, tmp, identities!, chosen.path, opts)) ??
      (await decryptToFile(await get(), tmp, identities!, chosen.path, opts));
    if (d.cipher.bytes !== stored.bytes || d.cipher.sha256 !== stored.sha256)
      throw corrupt('the encrypted object differs from its manifest');
    got = d.plain;
  } else {
    // the backend's own way to a file when it has one (S3 over plain http: raw sockets into a
    // ring, hashed on a worker; a folder: file reads into the ring); undefined when it cannot,
    // before any file exists
    got = await backend.getToFile?.(stored.key, tmp, { ...opts, expectedBytes: stored.bytes });
    got ??= await streamToFile(await get(), tmp, opts);
  }
  if (got.bytes !== a.bytes) throw corrupt(`${got.bytes} bytes, manifest ${a.bytes}`);
  if (got.sha256 !== a.sha256) throw corrupt('sha256 differs from its manifest');
  return got;
}

/** Downloads one chosen copy (unless the same file is already local), verified, into the repository. */
export async function fetchChosen(
  repo: Repository,
  backend: CopyBackend,
  chosen: RepoArtifact,
  ctx: TargetContext,
  identities?: readonly string[],
): Promise<FetchResult> {
  const a = chosen.artifact;
  const local = (await repo.scan()).artifacts.find(
    (x) => x.valid && x.artifact.file === a.file && x.artifact.sha256 === a.sha256,
  );
  if (local) return { file: a.file, setId: local.set.id, fetched: false, bytes: a.bytes };

  const finalPath = repo.resolve(a.file);
  const existing = await hashFile(finalPath).catch(() => undefined);
  if (existing && existing.sha256 !== a.sha256)
    throw new QnbError('E_REFUSED', `${finalPath} exists and is not the copy's ${a.file}; not replaced`, {
      hint: 'move that file away, then run the restore again',
    });
  const tmp = tempPathFor(finalPath);
  const started = Date.now();
  ctx.reporter.emit({
    type: 'transfer-start',
    direction: 'download',
    target: a.target,
    name: a.name,
    file: a.file,
    totalBytes: a.bytes,
  });
  try {
    const got = await download(backend, chosen, tmp, ctx, identities);
    ctx.reporter.emit({
      type: 'transfer-end',
      direction: 'download',
      name: a.name,
      bytes: got.bytes,
      durationMs: Date.now() - started,
    });
    if (existing) {
      await rm(tmp, { force: true });
    }
    // the local entry describes the plain file: the destination's `stored` stays on the destination
    const { stored: _stored, ...record } = a;
    const set = await localSetFor(repo, chosen.set);
    set.pruned = set.pruned?.filter((p) => p.file !== a.file);
    set.artifacts = set.artifacts.filter((x) => x.file !== a.file);
    if (existing) {
      set.artifacts.push({ ...record, status: 'ok' });
      await repo.saveSet(set);
    } else await createSetSink(repo, set, ctx.now).commit({ ...record }, tmp);
    return { file: a.file, setId: set.id, fetched: true, bytes: a.bytes };
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw err;
  }
}

/** The local manifest of the copy's set, or a new one made from the copy's (without artifacts). */
async function localSetFor(repo: Repository, remoteSet: SetManifest): Promise<SetManifest> {
  try {
    return await repo.loadSet(remoteSet.id);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    return { ...withoutKept(remoteSet), artifacts: [], pruned: [] };
  }
}
