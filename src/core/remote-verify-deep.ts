/**
 * `verify --deep --from DEST`: every chosen copy is proven from the destination's bytes, then
 * drilled. A copy whose identical file (same sha256) the backups folder holds is read back and
 * hashed there, and the local file drilled; any other copy is brought back (fetchChosen: size and
 * sha256 checked as it comes, decrypted when encrypted) and drilled — one read of each copy.
 */
import type { CopyBackend } from '../storage/backend.js';
import type { Target, TargetContext } from '../targets/target.js';
import { NotFoundError, toQnbError } from './errors.js';
import { fetchChosen } from './remote-fetch.js';
import { displayBase, scanRemote } from './remote-scan.js';
import { chooseRemote, verifyRemote } from './remote-verify.js';
import type { RepoArtifact, Repository } from './repository.js';
import { type VerifyItem, type VerifyResult, verifyArtifacts } from './verify.js';

/** Errors that end the run: the destination or qnb cannot go on, whatever the copy. */
const FATAL = ['E_INTERRUPTED', 'E_AUTH', 'E_CONNECT', 'E_CONFIG'];

export async function verifyRemoteDeep(
  repository: Repository,
  from: CopyBackend,
  selector: string | undefined,
  ctx: TargetContext,
  targets: readonly Target[],
  identities?: readonly string[],
): Promise<VerifyResult> {
  const base = displayBase(from);
  const remote = await scanRemote(from, base, ctx.signal);
  const chosen = chooseRemote(remote.artifacts, selector, base);
  const local = (await repository.scan()).artifacts.filter((a) => a.valid);
  const held = (a: RepoArtifact) =>
    local.some((x) => x.artifact.file === a.artifact.file && x.artifact.sha256 === a.artifact.sha256);
  // read back: the copies the backups folder holds (and those not valid there, which fail at once)
  const read = await verifyRemote(from, base, selector, ctx, {
    ...(identities ? { identities } : {}),
    only: (a) => held(a) || !a.valid,
  });
  const items: VerifyItem[] = read.items.filter((i) => !i.ok);
  const readOk = (a: RepoArtifact) =>
    read.items.some((i) => i.ok && i.file === a.artifact.file && i.setId === a.set.id);
  const drill: RepoArtifact[] = [];
  for (const a of chosen.filter((x) => x.valid)) {
    if (held(a)) {
      if (readOk(a)) drill.push(a);
      continue;
    }
    try {
      await fetchChosen(repository, from, a, ctx, identities);
      drill.push(a);
    } catch (err) {
      const e = toQnbError(err, ctx.signal);
      if (FATAL.includes(e.code)) throw e;
      const { file, target, name } = a.artifact;
      items.push({ file, target, name, setId: a.set.id, ok: false, deep: false, detail: e.message });
    }
  }
  for (const a of drill)
    items.push(...(await verifyArtifacts(repository, a.artifact.file, ctx, targets, true)).items);
  if (items.length === 0) throw new NotFoundError(`no valid copy to verify on ${base}`);
  return { ok: items.every((i) => i.ok), items };
}
