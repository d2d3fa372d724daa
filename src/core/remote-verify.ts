/**
 * `qnb verify --from DEST [SET|FILE]`: reads copies back from a destination and re-hashes them against
 * the destination's manifests. It writes nothing but what it proves by reading a copy whole (of
 * another size or sha256) or finding it gone: each failure is recorded in its set's manifest on
 * the destination, as local verify records its own, so the copy is NOT VALID — remote prune keeps
 * an older good copy instead of it, and the next `qnb copy` sends it again; a recorded failure that
 * no longer holds is cleared the next time. (`--deep
 * --from` fetches the copies into the backups folder first, then runs the local restore drill:
 * manager.verify(…, { deep, from }).)
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { Readable } from 'node:stream';
import type { CopyBackend } from '../storage/backend.js';
import type { TargetContext } from '../targets/target.js';
import { decryptStream } from './age.js';
import { putText } from './copy-upload.js';
import { NotFoundError, toQnbError } from './errors.js';
import { manifestText, parseManifest, storedObject } from './manifest.js';
import { readText, scanRemote, setKey } from './remote-scan.js';
import type { RepoArtifact } from './repository.js';
import { getDecrypted } from './ring-age.js';
import { createRingFile } from './ring-file.js';
import type { StreamResult } from './transfer.js';
import type { VerifyItem, VerifyResult } from './verify.js';

/** Artifacts of a remote scan chosen by a set id or a file name (all complete ones when none). */
export function chooseRemote(
  artifacts: RepoArtifact[],
  selector: string | undefined,
  base: string,
): RepoArtifact[] {
  if (!selector) return artifacts.filter((a) => a.artifact.status === 'ok');
  const bySet = artifacts.filter((a) => a.set.id === selector);
  if (bySet.length) return bySet;
  const norm = selector.replace(/\\/g, '/');
  const byFile = artifacts.filter(
    (a) => a.artifact.file === norm || basename(a.artifact.file) === basename(norm),
  );
  if (byFile.length) return byFile;
  throw new NotFoundError(
    `${selector}: not a backup set id or a file on ${base}`,
    `run \`qnb list --remote ${base} --json\``,
  );
}

/** Hashes a stream to its end. */
async function hashStream(stream: AsyncIterable<unknown>): Promise<StreamResult> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    hash.update(c as Uint8Array);
    bytes += (c as Uint8Array).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * Size and sha256 of what the destination holds at `stored.key`: through the backend's own way
 * (S3 over plain http: ranged GETs over raw sockets; a folder: file reads; into a ring whose
 * worker hashes, nothing written), else its stream.
 */
async function readBack(
  backend: CopyBackend,
  stored: { key: string; bytes: number },
  call: { signal?: AbortSignal },
): Promise<StreamResult> {
  const fast = await backend.getToFile?.(stored.key, '', {
    ...call,
    expectedBytes: stored.bytes,
    sink: (_path, o) => createRingFile(undefined, o),
  });
  return fast ?? hashStream(await backend.get(stored.key, call));
}

/** An encrypted stream decrypted and both sides hashed, nothing written. */
async function decryptAndHash(
  body: Readable,
  identities: readonly string[],
  what: string,
): Promise<{ cipher: StreamResult; plain: StreamResult }> {
  const d = await decryptStream(body, identities, what);
  const plain = await hashStream(d.stream).catch((err) => {
    throw d.explain(err);
  });
  return { cipher: d.cipher(), plain };
}

/** What is wrong with `got` against `want`, or undefined when they match. */
function mismatch(got: StreamResult, want: { bytes: number; sha256: string }, what: string) {
  if (got.bytes !== want.bytes) return `${what}size ${got.bytes} differs from the manifest's ${want.bytes}`;
  if (got.sha256 !== want.sha256) return `${what}sha256 differs from the manifest (the copy is corrupt)`;
  return undefined;
}

/**
 * Reads each chosen copy back and compares size and sha256 with the destination's manifest. An
 * encrypted copy is checked as stored; with `identities` it is also decrypted and the plain bytes
 * checked against the backup's own sha256.
 */
export async function verifyRemote(
  backend: CopyBackend,
  base: string,
  selector: string | undefined,
  ctx: TargetContext,
  opts: {
    identities?: readonly string[];
    /** Of the chosen copies, read back only these. */
    only?: (a: RepoArtifact) => boolean;
  } = {},
): Promise<VerifyResult> {
  const scan = await scanRemote(backend, base, ctx.signal);
  const call = ctx.signal ? { signal: ctx.signal } : {};
  // a manifest qnb cannot read or parse hides its set's copies: each one is a failure of its own
  const bad = scan.badManifests.filter((b) => !selector || b.file === setKey(selector));
  const items: VerifyItem[] = bad.map((b) => ({
    file: b.file,
    target: 'manifest',
    name: basename(b.file, '.json'),
    setId: basename(b.file, '.json'),
    ok: false,
    deep: false,
    detail: /is newer than this qnb/.test(b.problem)
      ? `${b.problem}; the copies of this set can be checked and restored by that qnb — upgrade this one`
      : `${b.problem}; the copies of this set cannot be checked or restored — move it away on ${base}, then run \`qnb copy --to ${base}\` where the set is still in the backups folder`,
  }));
  const chosen = selector && bad.length ? [] : chooseRemote(scan.artifacts, selector, base);
  const outcomes: { a: RepoArtifact; detail?: string }[] = [];
  for (const a of chosen.filter(opts.only ?? (() => true))) {
    const { file, target, name } = a.artifact;
    const stored = storedObject(a.artifact);
    const encrypted = a.artifact.stored?.encryption === 'age';
    const decrypt = encrypted && Boolean(opts.identities?.length);
    const item: VerifyItem = {
      file,
      target,
      name,
      setId: a.set.id,
      ok: false,
      deep: false,
      note: `read back from ${base}${encrypted ? (decrypt ? ', decrypted' : ', encrypted (not decrypted: no QNB_AGE_IDENTITY)') : ''}`,
    };
    // a copy only a recorded verification failure makes invalid is read again: a failure that no
    // longer holds (the copy was put right) is cleared, as local verify clears its own
    const recordedOnly =
      !a.valid && a.artifact.verification?.ok === false && a.problem?.startsWith('failed verification');
    if (!a.valid && !recordedOnly) item.detail = a.problem ?? 'not valid';
    else {
      ctx.reporter.emit({ type: 'step', target, name, message: `reading back ${a.path}` });
      try {
        const sides: { cipher: StreamResult; plain?: StreamResult } = decrypt
          ? ((await getDecrypted(backend, stored, undefined, opts.identities!, a.path, call)) ??
            (await decryptAndHash(await backend.get(stored.key, call), opts.identities!, a.path)))
          : { cipher: await readBack(backend, stored, call) };
        item.detail =
          mismatch(sides.cipher, stored, decrypt ? 'stored object: ' : '') ??
          (sides.plain ? mismatch(sides.plain, a.artifact, 'decrypted: ') : undefined);
        item.ok = item.detail === undefined;
        // proven only by a whole read: a size or sha256 that differs
        if (!item.ok) outcomes.push({ a, detail: item.detail! });
        else if (recordedOnly) outcomes.push({ a });
      } catch (err) {
        const e = toQnbError(err, ctx.signal);
        if (e.code === 'E_INTERRUPTED' || e.code === 'E_AUTH' || e.code === 'E_CONNECT') throw e;
        item.detail = e.message;
        // a missing object is proven bad; a read cut short (a reset while decrypting reads as a
        // damaged file too) or a server error is not recorded
        if (e.code === 'E_NOT_FOUND') outcomes.push({ a, detail: e.message });
      }
    }
    if (item.ok) delete item.detail;
    items.push(item);
  }
  await recordOutcomes(backend, base, outcomes, ctx);
  return { ok: items.every((i) => i.ok), items };
}

/**
 * Records on the destination each proven failure (`detail`) and each recorded failure that no
 * longer holds (no `detail`: cleared), in its set's manifest, read again right before it is
 * written (a copy or prune may have changed it since the scan). A destination qnb may read but not
 * write (read-only keys) keeps its manifests: a warning says so.
 */
async function recordOutcomes(
  backend: CopyBackend,
  base: string,
  outcomes: { a: RepoArtifact; detail?: string }[],
  ctx: TargetContext,
): Promise<void> {
  const bySet = new Map<string, { a: RepoArtifact; detail?: string }[]>();
  for (const o of outcomes) bySet.set(o.a.set.id, [...(bySet.get(o.a.set.id) ?? []), o]);
  for (const [id, list] of bySet) {
    try {
      const now = parseManifest(await readText(backend, setKey(id), ctx.signal));
      if (typeof now === 'string') continue; // unreadable now: verify reports it next time
      for (const { a, detail } of list) {
        const read = storedObject(a.artifact);
        const entry = now.artifacts.find(
          (x) =>
            x.file === a.artifact.file &&
            x.sha256 === a.artifact.sha256 &&
            storedObject(x).sha256 === read.sha256,
        );
        if (!entry) continue; // pruned, or replaced by a copy (encrypted again) since the scan
        if (detail === undefined) delete entry.verification;
        else entry.verification = { at: ctx.now().toISOString(), ok: false, deep: false, detail };
      }
      await putText(backend, setKey(id), manifestText(now), ctx.signal);
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      if (e.code === 'E_INTERRUPTED') throw e;
      ctx.reporter.emit({
        type: 'warning',
        message: `could not record what verify found in ${setKey(id)} on ${base} (${e.message}); list --remote and prune --remote still judge that copy by what was recorded before`,
      });
    }
  }
}
