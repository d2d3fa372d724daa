/**
 * The Neo4j target: one Neo4j database, run locally (NEO4J_HOME) or in Docker (NEO4J_CONTAINER)
 * and reached over Bolt. Implements the Target contract (target.ts): dumps (Community: Neo4j
 * stopped meanwhile) or online exports, restores (neo4j-target-restore.ts), the scratch-Neo4j
 * drill, doctor's Neo4j checks (neo4j-doctor.ts), and starting a Neo4j a crashed qnb left stopped.
 */
import type { DrillConfig, Neo4jConfig } from '../../config/schema.js';
import { keysDigest } from '../../core/consistency.js';
import { ConfigError } from '../../core/errors.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { Repository } from '../../core/repository.js';
import { untrustedRecord } from '../../core/selector.js';
import type { DrillChecks, DrillOutcome, Target, TargetContext } from '../target.js';
import { backupNeo4jDump, describeGraph, type Neo4jBackupOptions } from './neo4j-backup.js';
import { openBolt, waitForBolt } from './neo4j-bolt.js';
import { countsProblem, skippedNote } from './neo4j-count-range.js';
import { createDockerRuntime } from './neo4j-docker-runtime.js';
import { neo4jChecks } from './neo4j-doctor.js';
import { checkDumpHeader } from './neo4j-dump-file.js';
import { backupNeo4jExport } from './neo4j-export.js';
import { recoverAfterCrash } from './neo4j-guardian.js';
import { importExport } from './neo4j-import.js';
import { neo4jKeys, neo4jLinkSide } from './neo4j-links.js';
import { checkProbesOf } from './neo4j-restore.js';
import { createLocalRuntime, type Neo4jRuntime, type RuntimeSpec } from './neo4j-runtime.js';
import { createScratchNeo4j } from './neo4j-scratch.js';
import {
  type Neo4jRestorePlan,
  neo4jKindOf,
  neo4jRestoreRefusals,
  neo4jSafetyBackup,
  planNeo4jRestore,
  restoreNeo4j,
  restorePlanned,
} from './neo4j-target-restore.js';

/** What the Neo4j target is built from. */
export interface Neo4jTargetDeps {
  config: Readonly<Neo4jConfig>;
  /** The backups folder (the stopped-Neo4j crash marker lives there). */
  backupDir: string;
  repository: Repository;
  /** Semantic probes: the read-only Cypher queries recorded with each backup. */
  drill?: Readonly<Pick<DrillConfig, 'neo4jQueries'>>;
}

/** Builds the Neo4j target. Which runtime (local or Docker) is decided on first use. */
export function createNeo4jTarget(deps: Neo4jTargetDeps): Target {
  const { config, backupDir } = deps;
  // the environment of neo4j, neo4j-admin and docker: read by config/load.ts, like every setting
  const childEnv = config.env as NodeJS.ProcessEnv | undefined;
  const neo4jOpts: Neo4jBackupOptions = {
    bolt: { uri: config.uri, user: config.user, password: config.password, database: config.database },
    backupDir,
    probeQueries: deps.drill?.neo4jQueries ?? [],
    ...(childEnv ? { env: childEnv } : {}),
  };

  function runtimeFor(spec?: RuntimeSpec): Neo4jRuntime {
    if (spec)
      return spec.kind === 'docker'
        ? createDockerRuntime(spec.container, 'docker', childEnv)
        : createLocalRuntime(spec.home, childEnv);
    if (config.container) return createDockerRuntime(config.container, 'docker', childEnv);
    if (config.home) return createLocalRuntime(config.home, childEnv);
    throw new ConfigError(
      'neo4j: neither NEO4J_CONTAINER nor NEO4J_HOME is set',
      'set NEO4J_CONTAINER to the Docker container name, or NEO4J_HOME to the local install',
    );
  }

  /** Guarantee 3 after a crash: what a guardian did, or a marker left by a dead qnb (neo4j-guardian.ts). */
  const recoverStoppedNeo4j = (ctx: TargetContext) =>
    recoverAfterCrash({ backupDir, bolt: neo4jOpts.bolt, reporter: ctx.reporter, runtimeFor });

  const exportMode = () => config.mode === 'export';
  const restoreDeps = { repository: deps.repository, runtime: () => runtimeFor(), opts: neo4jOpts };
  return {
    kind: 'neo4j',
    name: config.database,
    restoreKinds: ['neo4j-dump', 'neo4j-export'],
    async probe() {
      const graph = await describeGraph(neo4jOpts.bolt, 0);
      return { version: graph.version, capabilities: { onlineBackup: exportMode() } };
    },
    async preflight() {
      if (!exportMode()) runtimeFor(); // configuration errors before a set is written
      return [{ name: config.database }];
    },
    backup: (_scope, sink, ctx) =>
      exportMode()
        ? backupNeo4jExport(sink, ctx, neo4jOpts)
        : backupNeo4jDump(runtimeFor(), sink, ctx, neo4jOpts),
    pickSpec: () => ({
      target: 'neo4j',
      kinds: ['neo4j-dump', 'neo4j-export'],
      command: 'restore-neo4j',
      untrusted: (p) => untrustedNeo4j(p, config.database),
    }),
    defaultName: () => config.database,
    planRestore: (artifacts, opts) => planNeo4jRestore(restoreDeps, artifacts, opts),
    safetyBackup: (plan, sink, ctx) => neo4jSafetyBackup(restoreDeps, plan as Neo4jRestorePlan, sink, ctx),
    restoreRefusals: async (artifact, path, opts) => {
      await neo4jRestoreRefusals(restoreDeps, artifact, path, opts);
    },
    restore: (artifact, path, opts, ctx) =>
      opts.plan
        ? restorePlanned(restoreDeps, artifact, path, opts.plan as Neo4jRestorePlan, ctx)
        : restoreNeo4j(restoreDeps, artifact, path, opts, ctx),
    drill: (artifact, path, ctx, checks) =>
      drillNeo4j(
        artifact,
        path,
        { spec: runtimeFor().spec, database: config.database, childEnv, opts: neo4jOpts },
        ctx,
        checks,
      ),
    checkFile: async (artifact, path) => {
      if (artifact.kind === 'neo4j-dump') await checkDumpHeader(path, artifact.file);
    },
    doctorChecks: (ctx) =>
      neo4jChecks({
        config,
        backupDir,
        neo4j: () => runtimeFor(),
        recoverNeo4j: () => recoverStoppedNeo4j(ctx),
        artifacts: async () => (await deps.repository.scan()).artifacts,
      }),
    recover: recoverStoppedNeo4j,
    linkSide: (link) => neo4jLinkSide(neo4jOpts.bolt, link),
    close: async () => {},
  };
}

const untrustedNeo4j = (path: string, database: string) =>
  untrustedRecord(path, 'neo4j', neo4jKindOf(path), database);

/**
 * `verify --deep`: a scratch Neo4j of the same version (temporary home or throwaway container):
 * load a dump and `neo4j-admin database check` it, or import an export over Bolt; then exact
 * counts and sampled records.
 */
async function drillNeo4j(
  a: ArtifactRecord,
  path: string,
  where: { spec: RuntimeSpec; database: string; childEnv?: NodeJS.ProcessEnv; opts: Neo4jBackupOptions },
  ctx: TargetContext,
  checks?: DrillChecks,
): Promise<DrillOutcome> {
  const scratch = createScratchNeo4j(where.spec, where.database, where.childEnv);
  const step = (message: string) =>
    ctx.reporter.emit({ type: 'step', target: 'neo4j', name: a.name, message });
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
      ? await importExport(bolt, path, a.file, ctx, { sample: a.sample ?? [] })
      : undefined;
    const client = await openBolt(bolt);
    try {
      // exact counts, or within the range recorded when the graph changed around the dump
      const problem = countsProblem(await client.counts(), a, 'manifest');
      if (problem) return { detail: problem };
      // changed around the dump: sample and probes were read from another graph than it holds
      const note = skippedNote(a);
      if (note) step(`drill: ${note}`);
      const bad = imported
        ? imported.sampleBad
        : a.sample?.length && !note
          ? await client.compareSample(a.sample)
          : [];
      if (bad.length) return { detail: `sampled records differ: ${bad.join(', ')}` };
      if (!note) await checkProbesOf(a, { ...where.opts, bolt });
      for (const { link, digest } of checks?.links ?? []) {
        const keys = await neo4jKeys(bolt, link.neo4j.label, link.neo4j.property);
        const changed = a.details?.changedDuringExport === true || note !== undefined;
        if (keysDigest(keys) !== digest && !changed)
          return {
            detail: `link ${link.name}: the backup's :${link.neo4j.label}.${link.neo4j.property} keys differ from the ones the set recorded`,
          };
      }
      return {};
    } finally {
      await client.close();
    }
  } finally {
    await scratch.remove();
  }
}
