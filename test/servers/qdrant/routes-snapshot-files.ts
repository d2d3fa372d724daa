/**
 * Download (GET) and delete (DELETE) of one stored snapshot file: the same for collection,
 * shard and full-storage snapshots, which differ only in the folder that holds them.
 */
import { type Ctx, finishMutation, type Route } from './context.js';
import { serveFile } from './download.js';
import { boolParam } from './http-util.js';
import { deleteSnapshot, snapshotPath } from './snapshot-files.js';
import type { FaultOp } from './types.js';

/** Routes `GET|DELETE ${pattern}` (ending in `{snapshot}`) for the snapshots in `dirOf(ctx)`. */
export function snapshotFileRoutes(
  pattern: string,
  ops: { download: FaultOp; remove: FaultOp },
  dirOf: (ctx: Ctx) => string,
): Route[] {
  return [
    {
      method: 'GET',
      pattern,
      op: ops.download,
      write: false,
      handler: async (ctx) => {
        const path = await snapshotPath(dirOf(ctx), ctx.params.snapshot!);
        await serveFile(ctx, path, ctx.params.snapshot!);
      },
    },
    {
      method: 'DELETE',
      pattern,
      op: ops.remove,
      write: true,
      handler: async (ctx) => {
        const wait = boolParam(ctx.query, 'wait', true);
        const path = await snapshotPath(dirOf(ctx), ctx.params.snapshot!);
        await finishMutation(ctx, wait, async () => {
          await deleteSnapshot(path);
          return true;
        });
      },
    },
  ];
}
