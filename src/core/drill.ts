/**
 * Restore drills for `verify --deep`: restore an artifact somewhere harmless and compare what
 * comes back with what the manifest recorded. Qdrant: a scratch collection `qnb-verify-…`,
 * always deleted afterwards. Neo4j: a scratch Neo4j of the same version (temporary home or
 * throwaway container): load a dump and `neo4j-admin database check` it, or import an export
 * over Bolt; then exact counts and sampled records.
 */
import { randomBytes } from 'node:crypto';
import { openBolt, waitForBolt } from '../targets/neo4j/neo4j-bolt.js';
import { importExport } from '../targets/neo4j/neo4j-import.js';
import type { RuntimeSpec } from '../targets/neo4j/neo4j-runtime.js';
import { createScratchNeo4j } from '../targets/neo4j/neo4j-scratch.js';
import type { QdrantApi } from '../targets/qdrant/qdrant-api.js';
import { restoreQdrantCollection } from '../targets/qdrant/qdrant-restore.js';
import type { TargetContext } from '../targets/target.js';
import type { ArtifactRecord } from './manifest.js';

/** What a drill needs; each part is resolved only when an artifact of that target is drilled. */
export interface DrillDeps {
  qdrant: () => QdrantApi;
  neo4j: () => { spec: RuntimeSpec; database: string };
  ctx: TargetContext;
}

/** Result of one drill: `undefined` detail = passed. `skipped` when no drill exists for the kind. */
export interface DrillOutcome {
  detail?: string;
  skipped?: string;
}

/** Drills one artifact whose file hash already matched. */
export async function drillArtifact(a: ArtifactRecord, path: string, deps: DrillDeps): Promise<DrillOutcome> {
  try {
    if (a.kind === 'qdrant-collection') return await drillQdrant(a, path, deps);
    if (a.kind === 'neo4j-dump' || a.kind === 'neo4j-export') return await drillNeo4j(a, path, deps);
    return {
      skipped: `no restore drill for ${a.kind} (Qdrant restores full-storage snapshots only at server start)`,
    };
  } catch (err) {
    if (deps.ctx.signal?.aborted) throw err;
    return { detail: (err as Error).message };
  }
}

async function drillQdrant(a: ArtifactRecord, path: string, deps: DrillDeps): Promise<DrillOutcome> {
  const api = deps.qdrant();
  const scratch = `qnb-verify-${a.name.slice(0, 40)}-${randomBytes(3).toString('hex')}`;
  deps.ctx.reporter.emit({
    type: 'step',
    target: 'qdrant',
    name: a.name,
    message: `drill: restoring ${a.file} into scratch collection ${scratch}`,
  });
  try {
    // restoring under a new name: custom sharding would come back empty, so use the original
    // collection's sharding check only as a message
    await restoreQdrantCollection(api, a, path, deps.ctx, { as: scratch, targetExists: false });
    return {};
  } finally {
    await api.deleteCollection(scratch).catch(() => {});
  }
}

async function drillNeo4j(a: ArtifactRecord, path: string, deps: DrillDeps): Promise<DrillOutcome> {
  const { spec, database } = deps.neo4j();
  const scratch = createScratchNeo4j(spec, database);
  const step = (message: string) =>
    deps.ctx.reporter.emit({ type: 'step', target: 'neo4j', name: a.name, message });
  const isExport = a.kind === 'neo4j-export';
  try {
    if (!isExport) {
      step(`drill: loading ${a.file} into a scratch Neo4j`);
      await scratch.load(path);
      step('drill: neo4j-admin database check');
      await scratch.check();
    }
    step('drill: starting the scratch Neo4j');
    const bolt = await scratch.start();
    await waitForBolt(bolt, 180_000);
    // an export is imported over Bolt into the (empty) scratch database, sample checked on the way
    const imported = isExport
      ? await importExport(bolt, path, a.file, deps.ctx, { sample: a.sample ?? [] })
      : undefined;
    const client = await openBolt(bolt);
    try {
      const counts = await client.counts();
      const { nodes, relationships } = a.counts;
      if (counts.nodes !== nodes || counts.relationships !== relationships) {
        return {
          detail: `restored ${counts.nodes} nodes / ${counts.relationships} relationships, manifest ${nodes} / ${relationships}`,
        };
      }
      const bad = imported
        ? imported.sampleBad
        : a.sample?.length
          ? await client.compareSample(a.sample)
          : [];
      if (bad.length) return { detail: `sampled records differ: ${bad.join(', ')}` };
      return {};
    } finally {
      await client.close();
    }
  } finally {
    await scratch.remove();
  }
}
