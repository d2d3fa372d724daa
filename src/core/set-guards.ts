/**
 * What guards a backup set's consistency (docs/consistency.md): the quiesce hooks around it and
 * the links between the stores. Each link side's keys are read from the live store right before
 * the backup of the scope that holds it (the target's `linkSide`); when the set's steps are done,
 * the orphans on either side are recorded in the manifest, and more than `maxOrphans` make the
 * set `partial`. Nothing here knows a database.
 */
import type { HooksConfig, LinkConfig } from '../config/schema.js';
import type { LinkSideReader, Target, TargetContext } from '../targets/target.js';
import { describeLink, keysDigest, orphanCount, orphans } from './consistency.js';
import { InterruptedError, QnbError, toQnbError } from './errors.js';
import { runHook } from './hooks.js';
import type { LinkRecord, LinkSide, SetManifest, TargetKind } from './manifest.js';
import type { Repository } from './repository.js';

interface SideState {
  reader: LinkSideReader;
  kind: TargetKind;
  keys?: string[];
  side?: LinkSide;
  error?: string;
}

/** The hooks and link checks of one set. */
export interface SetGuards {
  /** Runs `hooks.beforeSet`; returns the error every step fails with when it failed. */
  before(set: SetManifest): Promise<QnbError | undefined>;
  /** Reads the link sides that live in this scope, right before its backup. Never throws. */
  beforeStep(target: TargetKind, scope: string): Promise<void>;
  /** Records the links in the set; orphans over the threshold become set errors (`partial`). */
  checkLinks(set: SetManifest): void;
  /** Runs `hooks.afterSet` whatever happened, and saves its record in the set. Never throws. */
  after(set: SetManifest, repo: Repository): Promise<void>;
}

/** Guards for one set: `links` only for sets that back up every store (backup-all). */
export function createSetGuards(
  cfg: { hooks: Readonly<HooksConfig>; links: readonly LinkConfig[] },
  targets: readonly Target[],
  ctx: TargetContext,
): SetGuards {
  const sides = cfg.links.map((link) => {
    const of = (kind: TargetKind): SideState | undefined => {
      const t = targets.find((x) => x.kind === kind);
      const reader = t?.linkSide?.(link);
      return reader ? { reader, kind } : undefined;
    };
    return { link, qdrant: of('qdrant'), neo4j: of('neo4j') };
  });
  const warn = (message: string) => ctx.reporter.emit({ type: 'warning', message });
  return {
    async before(set) {
      if (!cfg.hooks.beforeSet) return undefined;
      ctx.reporter.emit({ type: 'step', message: 'hooks.beforeSet: running' });
      const rec = await runHook('beforeSet', cfg.hooks.beforeSet, cfg.hooks.timeout, ctx.signal);
      set.hooks = [...(set.hooks ?? []), rec];
      if (ctx.signal?.aborted) return new InterruptedError();
      if (rec.ok) return undefined;
      return new QnbError('E_REFUSED', `not backed up: hooks.beforeSet failed: ${rec.detail}`, {
        hint: 'fix the hook (it must exit 0 once the writers are paused)',
      });
    },
    async beforeStep(target, scope) {
      for (const s of sides) {
        for (const side of [s.qdrant, s.neo4j]) {
          if (!side || side.kind !== target || side.reader.scope !== scope || side.side) continue;
          try {
            const keys = await side.reader.read(ctx);
            side.keys = keys;
            side.side = {
              where: side.reader.where,
              keys: new Set(keys).size,
              digest: keysDigest(keys),
              readAt: ctx.now().toISOString(),
            };
          } catch (err) {
            side.error = `${side.reader.where}: ${toQnbError(err, ctx.signal).message}`;
          }
        }
      }
    },
    checkLinks(set) {
      if (sides.length === 0) return;
      const hadErrors = set.errors.length > 0;
      const unread = new Set<string>();
      set.links = sides.map(({ link, qdrant, neo4j }): LinkRecord => {
        const rec: LinkRecord = {
          name: link.name,
          spec: { qdrant: link.qdrant, neo4j: link.neo4j },
          maxOrphans: link.maxOrphans,
        };
        if (qdrant?.side) rec.qdrant = qdrant.side;
        if (neo4j?.side) rec.neo4j = neo4j.side;
        const missing = [qdrant, neo4j].find((x) => !x?.keys);
        if (missing || !qdrant?.keys || !neo4j?.keys) {
          // a side that could not be read leaves the claim unproven; one not backed up, unmade
          if (missing?.error) unread.add(link.name);
          rec.skipped =
            missing?.error ??
            `${missing?.reader.where ?? 'a side'} was not backed up in this set (collection ${link.qdrant.collection}, database of :${link.neo4j.label})`;
          return rec;
        }
        rec.pointsWithoutNode = orphans(qdrant.keys, neo4j.keys);
        rec.nodesWithoutPoint = orphans(neo4j.keys, qdrant.keys);
        return rec;
      });
      for (const l of set.links) {
        const bad = l.skipped ? unread.has(l.name) && !hadErrors : orphanCount(l) > l.maxOrphans;
        if (!bad) continue;
        const message = l.skipped
          ? `link ${l.name} ${describeLink(l)}`
          : `link ${l.name}: ${describeLink(l)} — more than links[].maxOrphans (${l.maxOrphans}); the stores were backed up at different points (pause the writers with hooks.beforeSet)`;
        warn(message);
        set.errors.push({ target: 'qdrant', name: `link ${l.name}`, code: 'E_PARTIAL', message });
      }
    },
    async after(set, repo) {
      if (!cfg.hooks.afterSet) return;
      ctx.reporter.emit({ type: 'step', message: 'hooks.afterSet: running' });
      const rec = await runHook('afterSet', cfg.hooks.afterSet, cfg.hooks.timeout);
      set.hooks = [...(set.hooks ?? []), rec];
      if (!rec.ok) warn(`hooks.afterSet failed: ${rec.detail}`);
      await repo.saveSet(set).catch(() => {});
    },
  };
}

/** A link's state after a restore: both sides read again and compared with the manifest's. */
export interface RestoredLink {
  name: string;
  ok: boolean;
  /** `0 orphans, keys as recorded` or what differs. */
  detail: string;
}

/**
 * `qnb restore SET`, after every store was restored: reads each recorded link's keys again and
 * compares their digests (hence the orphans) with the manifest's. Never throws.
 */
export async function checkRestoredLinks(
  set: SetManifest,
  targets: readonly Target[],
  ctx: TargetContext,
): Promise<RestoredLink[]> {
  const out: RestoredLink[] = [];
  for (const rec of set.links ?? []) {
    if (!rec.spec || rec.skipped || !rec.qdrant || !rec.neo4j) continue;
    const link: LinkConfig = { name: rec.name, maxOrphans: rec.maxOrphans, ...rec.spec };
    try {
      const keys: Record<TargetKind, string[]> = { qdrant: [], neo4j: [] };
      for (const kind of ['qdrant', 'neo4j'] as const) {
        const reader = targets.find((t) => t.kind === kind)?.linkSide?.(link);
        if (!reader)
          throw new Error(
            `no ${kind} target to read ${kind === 'qdrant' ? rec.qdrant.where : rec.neo4j.where}`,
          );
        keys[kind] = await reader.read(ctx);
      }
      const now: LinkRecord = {
        ...rec,
        pointsWithoutNode: orphans(keys.qdrant, keys.neo4j),
        nodesWithoutPoint: orphans(keys.neo4j, keys.qdrant),
      };
      const differ = (['qdrant', 'neo4j'] as const).filter((k) => keysDigest(keys[k]) !== rec[k]!.digest);
      const ok = differ.length === 0 && orphanCount(now) === orphanCount(rec);
      out.push({
        name: rec.name,
        ok,
        detail: ok
          ? `${describeLink(now)}, keys as recorded`
          : `${describeLink(now)} (the backup recorded ${describeLink(rec)}); keys differ from the backup's in ${differ.map((k) => (k === 'qdrant' ? rec.qdrant!.where : rec.neo4j!.where)).join(' and ') || 'neither side'}`,
      });
    } catch (err) {
      out.push({
        name: rec.name,
        ok: false,
        detail: `cannot read the keys: ${toQnbError(err, ctx.signal).message}`,
      });
    }
  }
  return out;
}
