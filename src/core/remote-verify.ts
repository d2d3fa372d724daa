/**
 * `qnb verify --from TARGET [SET|FILE]`: reads copies back from a target and re-hashes them against
 * the target's manifests, without writing anything anywhere. (`--deep --from` fetches the copies
 * into the backups folder first, then runs the local restore drill: manager.verifyFrom.)
 */
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { CopyBackend } from '../storage/backend.js';
import type { TargetContext } from '../targets/target.js';
import { NotFoundError, toQnbError } from './errors.js';
import { scanRemote } from './remote-scan.js';
import type { RepoArtifact } from './repository.js';
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

/** Reads each chosen copy back and compares size and sha256 with the target's manifest. */
export async function verifyRemote(
  backend: CopyBackend,
  base: string,
  selector: string | undefined,
  ctx: TargetContext,
): Promise<VerifyResult> {
  const scan = await scanRemote(backend, base, ctx.signal);
  const items: VerifyItem[] = [];
  for (const a of chooseRemote(scan.artifacts, selector, base)) {
    const { file, target, name, bytes, sha256 } = a.artifact;
    const item: VerifyItem = {
      file,
      target,
      name,
      setId: a.set.id,
      ok: false,
      deep: false,
      note: `read back from ${base}`,
    };
    if (!a.valid) item.detail = a.problem ?? 'not valid';
    else {
      ctx.reporter.emit({ type: 'step', target, name, message: `reading back ${a.path}` });
      try {
        const hash = createHash('sha256');
        let n = 0;
        for await (const c of await backend.get(file, ctx.signal ? { signal: ctx.signal } : {})) {
          hash.update(c as Buffer);
          n += (c as Buffer).length;
        }
        if (n !== bytes) item.detail = `size ${n} differs from the manifest's ${bytes}`;
        else if (hash.digest('hex') !== sha256)
          item.detail = 'sha256 differs from the manifest (the copy is corrupt)';
        else item.ok = true;
      } catch (err) {
        const e = toQnbError(err, ctx.signal);
        if (e.code === 'E_INTERRUPTED' || e.code === 'E_AUTH' || e.code === 'E_CONNECT') throw e;
        item.detail = e.message;
      }
    }
    if (item.ok) delete item.detail;
    items.push(item);
  }
  return { ok: items.every((i) => i.ok), items };
}
