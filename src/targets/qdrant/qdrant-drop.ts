/**
 * Drop-then-restore: an existing target collection is dropped (its safety backup was taken by
 * the caller) so the restored one comes back with the backed-up settings. A failure after the
 * drop says so, and points at the safety backup, in the one error line the user sees.
 */
import { QnbError } from '../../core/errors.js';
import type { TargetContext } from '../target.js';
import type { QdrantApi } from './qdrant-api.js';

/** Drops `target` when `drop` is set, then runs `restore`; errors after the drop name it. */
export async function dropThenRestore(
  api: QdrantApi,
  target: string,
  ctx: TargetContext,
  opts: { drop: boolean; safetyNote?: string | undefined },
  restore: () => Promise<void>,
): Promise<void> {
  let dropped = false;
  try {
    if (opts.drop) {
      ctx.reporter.emit({
        type: 'step',
        target: 'qdrant',
        name: target,
        message: `dropping "${target}" so it comes back with the backed-up settings`,
      });
      await api.deleteCollection(target);
      dropped = true;
    }
    await restore();
  } catch (err) {
    if (!dropped || !(err instanceof QnbError)) throw err;
    throw new QnbError(err.code, `${err.message} (the previous "${target}" was dropped before the upload)`, {
      hint: opts.safetyNote ?? err.hint,
      cause: err,
      retryable: err.retryable,
    });
  }
}
