/**
 * `qnb copy`: sends the backup sets a copy destination does not have yet, newest first. Per set, every
 * valid artifact goes first (each put verified, see the backend), the set's manifest last — so a
 * set that is half copied has no manifest on the destination and never looks complete; the next run
 * finishes it. Objects already on the destination are proven (recorded sha256, or read back and hashed)
 * instead of being sent again; an object under the same key with other bytes is never overwritten.
 * A set whose manifest is there is judged by that manifest, read and parsed every run; a repair
 * marks an entry incomplete on the destination before it replaces the entry's object.
 */
import type { CopyBackend } from '../storage/backend.js';
import { withRetry } from '../storage/retry.js';
import type { TargetContext } from '../targets/target.js';
import { AGE_SUFFIX } from './age.js';
import { putText, remoteSha256, sendEncrypted, sendFile } from './copy-upload.js';
import { type ErrorCode, QnbError, throwIfAborted, toQnbError } from './errors.js';
import {
  type ArtifactRecord,
  manifestText,
  parseManifest,
  type SetManifest,
  type StoredObject,
  storedObject,
  withoutKept,
} from './manifest.js';
import { displayBase, readText, scanRemote, setKey } from './remote-scan.js';
import type { RepoArtifact, Repository } from './repository.js';

/** Options of copy. */
export interface CopyOptions {
  /** Plan only: list what would be sent, send nothing. */
  dryRun?: boolean;
  /** Copy only these set ids (default: every set with a valid backup). */
  sets?: string[];
  /** age recipients: when given, every artifact is stored encrypted to them (`<file>.age`). */
  recipients?: readonly string[] | undefined;
}

/** What happened to one artifact. */
export interface CopyArtifactResult {
  file: string;
  bytes: number;
  action: 'sent' | 'present' | 'would-send' | 'failed' | 'not-tried';
  error?: { code: ErrorCode; message: string };
}

/** What happened to one set. */
export interface CopySetResult {
  id: string;
  /** `present`: its manifest on the destination was read and records every copy; `copied`: completed by this run. */
  action: 'present' | 'copied' | 'would-copy' | 'failed' | 'not-tried';
  artifacts: CopyArtifactResult[];
  error?: { code: ErrorCode; message: string; hint?: string };
}

/** The result of copy. */
export interface CopyReport {
  target: string;
  /** How the destination proves a copy (the backend's `verification`). */
  verification: string;
  dryRun: boolean;
  /** Set when this run encrypts what it sends. */
  encryption?: { format: 'age'; recipients: string[] };
  ok: boolean;
  sets: CopySetResult[];
  sentFiles: number;
  sentBytes: number;
  durationMs: number;
}

/** Errors that end the whole run (the destination is unusable), not just one set. */
const FATAL: ErrorCode[] = [
  'E_AUTH',
  'E_CONNECT',
  'E_NOT_FOUND',
  'E_IO',
  'E_SERVER',
  'E_INTERRUPTED',
  'E_INTERNAL',
];

/**
 * The set as the destination stores it: only the artifacts that were copied, with how each is
 * stored. With `existing` (the destination's manifest of a set being repaired), every entry it
 * holds stays, its `pruned` list too; the entries of the artifacts sent now replace theirs.
 */
function remoteManifest(
  set: SetManifest,
  copied: Map<string, StoredObject | undefined>,
  existing?: SetManifest,
): string {
  const artifacts = set.artifacts
    .filter((a) => copied.has(a.file))
    .map((a) => {
      const stored = copied.get(a.file);
      return stored ? { ...a, stored } : a;
    });
  // the destination keeps what its manifest held that this qnb does not understand; a new one
  // lists only what was copied
  const merged = existing
    ? { ...existing, artifacts: [...existing.artifacts.filter((a) => !copied.has(a.file)), ...artifacts] }
    : { ...withoutKept(set), artifacts };
  return manifestText(merged);
}

/**
 * The valid local artifacts of a set whose manifest is on the destination but whose copy is not
 * there: entry missing or incomplete in that manifest (copied while the local file was not valid,
 * or a replacement cut short, see copySet), of another sha256, object missing or of another size.
 * An entry the destination's own prune removed is not missing. The manifest is always read: a set
 * is never `present` on the strength of a manifest qnb could not parse. Returns the gaps and it.
 */
async function gapsOf(
  backend: CopyBackend,
  set: SetManifest,
  valid: RepoArtifact[],
  remote: Map<string, number>,
  signal?: AbortSignal,
): Promise<{ gaps: RepoArtifact[]; existing: SetManifest }> {
  // read every run for every set already there: a transient failure is retried, not fatal at once
  const text = await withRetry(() => readText(backend, setKey(set.id), signal), signal ? { signal } : {});
  const parsed = parseManifest(text);
  const problem =
    typeof parsed === 'string' ? parsed : parsed.id !== set.id ? `it holds set ${parsed.id}` : undefined;
  if (typeof parsed === 'string' || problem)
    throw new QnbError('E_REFUSED', `${setKey(set.id)} on ${backend.name} cannot be used: ${problem}`, {
      hint: /is newer than this qnb/.test(problem ?? '')
        ? 'a newer qnb wrote it: copy with that qnb (upgrade this one)'
        : 'move that manifest away on the destination (the copies stay), then run the copy again',
    });
  const gaps = valid.filter((a) => {
    if (parsed.pruned?.some((p) => p.file === a.artifact.file)) return false;
    const entry = parsed.artifacts.find((x) => x.file === a.artifact.file && x.status === 'ok');
    // a copy `verify --from` found damaged is sent again
    if (!entry || entry.sha256 !== a.artifact.sha256 || entry.verification?.ok === false) return true;
    const obj = storedObject(entry);
    return remote.get(obj.key) !== obj.bytes;
  });
  return { gaps, existing: parsed };
}

/** The set id of every object key that a manifest on the destination references (read once, lazily). */
function referencesOn(backend: CopyBackend, signal?: AbortSignal) {
  let refs: Promise<Map<string, string>> | undefined;
  return (key: string) => {
    refs ??= scanRemote(backend, displayBase(backend), signal).then(
      (scan) => new Map(scan.artifacts.map((x) => [storedObject(x.artifact).key, x.set.id])),
    );
    return refs.then((m) => m.get(key));
  };
}

/** Copies one set; throws a QnbError for the set's failure. */
async function copySet(
  backend: CopyBackend,
  set: SetManifest,
  valid: RepoArtifact[],
  remote: Map<string, number>,
  ctx: TargetContext,
  opts: {
    dryRun: boolean;
    recipients?: readonly string[] | undefined;
    referencedBy: (key: string) => Promise<string | undefined>;
    /** The destination's manifest of this set, when the run repairs its gaps. */
    existing?: SetManifest | undefined;
  },
  result: CopySetResult,
): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const copied = new Map<string, StoredObject | undefined>();
  const encrypt = Boolean(opts.recipients?.length);
  // the destination's manifest of this set as it is now
  let current = opts.existing;
  for (const a of valid) {
    throwIfAborted(ctx.signal);
    const item: CopyArtifactResult = { file: a.artifact.file, bytes: a.artifact.bytes, action: 'not-tried' };
    result.artifacts.push(item);
    const fail = (e: QnbError) => {
      item.action = 'failed';
      item.error = { code: e.code, message: e.message };
      return e;
    };
    const key = encrypt ? `${a.artifact.file}${AGE_SUFFIX}` : a.artifact.file;
    const remoteSize = remote.get(key);
    // the destination's manifest of this set (a repair) records this very file: its object is
    // this set's own copy, which a damaged one is replaced by
    const ours = opts.existing?.artifacts.some(
      (x) => x.file === a.artifact.file && x.sha256 === a.artifact.sha256 && storedObject(x).key === key,
    );
    // a copy `verify --from` proved damaged is replaced even when its recorded sha256 looks right
    const damaged = opts.existing?.artifacts.some(
      (x) => x.file === a.artifact.file && x.verification?.ok === false,
    );
    if (remoteSize !== undefined && !encrypt) {
      const same =
        !damaged &&
        remoteSize === a.artifact.bytes &&
        (await remoteSha256(backend, a.artifact.file, ctx.signal)) === a.artifact.sha256;
      if (!same && !ours)
        throw fail(
          new QnbError(
            'E_REFUSED',
            `${a.artifact.file} exists on ${backend.name} with other content; not overwritten`,
            {
              hint: 'another qnb may copy to the same place: give each machine its own folder or s3 prefix',
            },
          ),
        );
      if (same) {
        item.action = 'present';
        copied.set(a.artifact.file, undefined);
        continue;
      }
    }
    if (remoteSize !== undefined && encrypt) {
      // encrypted bytes differ on every run, so they cannot be compared: an object no manifest
      // references is what an interrupted copy left and is replaced; a referenced one never is
      const owner = await opts.referencedBy(key);
      // a set being repaired replaces its own object that is of the wrong size
      if (owner && !(ours && owner === set.id))
        throw fail(
          new QnbError(
            'E_REFUSED',
            `${key} on ${backend.name} belongs to backup set ${owner}; not overwritten`,
            {
              hint: 'another qnb may copy to the same place: give each machine its own folder or s3 prefix',
            },
          ),
        );
    }
    if (opts.dryRun) {
      item.action = 'would-send';
      continue;
    }
    try {
      // as remote prune does, the manifest entry that records this key leaves the complete state
      // before the object changes: a replacement cut short is then a gap the next copy repairs,
      // never an entry whose sha256 the new object lacks (encrypting again makes other bytes)
      const stale = (x: ArtifactRecord) => x.status === 'ok' && storedObject(x).key === key;
      if (current?.artifacts.some(stale)) {
        const marked = current.artifacts.map((x) => (stale(x) ? { ...x, status: 'pending' as const } : x));
        current = { ...current, artifacts: marked };
        await putText(backend, setKey(set.id), manifestText(current), ctx.signal);
      }
      if (encrypt) copied.set(a.artifact.file, await sendEncrypted(backend, a, opts.recipients!, ctx));
      else {
        const { file, bytes: size, sha256 } = a.artifact;
        await sendFile(backend, a, { path: a.path, key: file, bytes: size, sha256 }, ctx);
        copied.set(file, undefined);
      }
    } catch (err) {
      throw fail(toQnbError(err, ctx.signal));
    }
    item.action = 'sent';
    files++;
    bytes += a.artifact.bytes;
  }
  if (!opts.dryRun) await putText(backend, setKey(set.id), remoteManifest(set, copied, current), ctx.signal);
  return { files, bytes };
}

/** Copies what the destination lacks. Returns a report; throws only when the destination cannot be read at all. */
export async function copySets(
  repo: Repository,
  backend: CopyBackend,
  ctx: TargetContext,
  opts: CopyOptions = {},
): Promise<CopyReport> {
  const started = Date.now();
  const dryRun = Boolean(opts.dryRun);
  const scan = await repo.scan();
  // one listing tells which sets and files are there (and checks credentials and bucket first)
  const remote = new Map<string, number>();
  for await (const o of backend.list('', ctx.signal ? { signal: ctx.signal } : {})) remote.set(o.key, o.size);
  const report: CopyReport = {
    target: backend.name,
    verification: backend.properties().verification,
    dryRun,
    ...(opts.recipients?.length
      ? { encryption: { format: 'age' as const, recipients: [...opts.recipients] } }
      : {}),
    ok: true,
    sets: [],
    sentFiles: 0,
    sentBytes: 0,
    durationMs: 0,
  };
  const candidates = scan.sets
    .filter((s) => s.status !== 'running' && (!opts.sets || opts.sets.includes(s.id)))
    .map((s) => ({ set: s, valid: scan.artifacts.filter((a) => a.set.id === s.id && a.valid) }))
    .filter((c) => c.valid.length > 0)
    .sort((x, y) => y.set.startedAt.localeCompare(x.set.startedAt) || y.set.id.localeCompare(x.set.id));
  let stopped: QnbError | undefined;
  const referencedBy = referencesOn(backend, ctx.signal);
  for (const { set, valid } of candidates) {
    const result: CopySetResult = { id: set.id, action: 'not-tried', artifacts: [] };
    report.sets.push(result);
    // after an error that ends the run, a set is not judged present from the listing alone
    if (stopped) continue;
    try {
      let send = valid;
      let existing: SetManifest | undefined;
      if (remote.has(setKey(set.id))) {
        // its manifest is there: the copies it records are checked against the listing
        ({ gaps: send, existing } = await gapsOf(backend, set, valid, remote, ctx.signal));
        if (send.length === 0) {
          result.action = 'present';
          continue;
        }
        ctx.reporter.emit({
          type: 'warning',
          message: `set ${set.id} on ${backend.name} lacks ${send.map((a) => a.artifact.file).join(', ')}; ${dryRun ? 'would send' : 'sending'} again`,
        });
      }
      ctx.reporter.emit({
        type: 'step',
        message: `${dryRun ? 'would copy' : 'copying'} set ${set.id} to ${backend.name}`,
      });
      const sent = await copySet(
        backend,
        set,
        send,
        remote,
        ctx,
        { dryRun, recipients: opts.recipients, referencedBy, existing },
        result,
      );
      result.action = dryRun ? 'would-copy' : 'copied';
      report.sentFiles += sent.files;
      report.sentBytes += sent.bytes;
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      result.action = 'failed';
      result.error = { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
      report.ok = false;
      if (e.code === 'E_INTERRUPTED') throw e;
      if (FATAL.includes(e.code)) stopped = e;
    }
  }
  report.durationMs = Date.now() - started;
  return report;
}
