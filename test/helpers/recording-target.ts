/**
 * A restore target for set-restore tests over copy destinations: it restores nothing and records
 * which files it was given, so a test sees what a restore from a destination would have loaded.
 */
import type { Target } from '../../src/targets/target.js';

/** A target of `kind` that pushes the file of each artifact it is asked to restore onto `restored`. */
export function recordingTarget(kind: 'qdrant' | 'neo4j', restored: string[]): Target {
  return {
    kind,
    restoreKinds: kind === 'qdrant' ? ['qdrant-collection'] : ['neo4j-dump'],
    planRestore: async () => ({ overwrites: [] }),
    safetyBackup: async () => {},
    restore: async (a: { file: string }) => {
      restored.push(a.file);
      return { report: {} };
    },
  } as unknown as Target;
}
