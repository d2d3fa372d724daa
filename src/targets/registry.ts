/**
 * Which databases qnb backs up, and the one visible function that builds their targets (as
 * storage/registry.ts does for copy backends). To add a database: implement `Target`
 * (target.ts) in `targets/<db>/`, run `test/suites/target-suite.ts` against it, and add it here.
 */
import type { QnbConfig } from '../config/schema.js';
import type { Repository } from '../core/repository.js';
import { createNeo4jTarget } from './neo4j/neo4j-target.js';
import type { QdrantApi } from './qdrant/qdrant-api.js';
import { createQdrantTarget } from './qdrant/qdrant-target.js';
import type { Target } from './target.js';

/** Options of openTargets. */
export interface OpenTargetsOptions {
  /** A Qdrant API to use instead of one built from the config (tests, custom transports). */
  qdrantApi?: QdrantApi;
}

/**
 * Every target of a configuration, in the order a set backs them up and restores them: Qdrant,
 * then Neo4j. Building them contacts no server and throws for no missing setting.
 */
export function openTargets(
  config: Readonly<QnbConfig>,
  repository: Repository,
  opts: OpenTargetsOptions = {},
): Target[] {
  return [
    createQdrantTarget({
      config: config.qdrant,
      repository,
      ...(opts.qdrantApi ? { api: opts.qdrantApi } : {}),
    }),
    createNeo4jTarget({ config: config.neo4j, backupDir: config.backupDir, repository }),
  ];
}
