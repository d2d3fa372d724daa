/**
 * A backups folder with many artifacts, written with qnb's own core (createRepository, startSet,
 * createSetSink, finishSet), so manifests and file layout are exactly what qnb writes. Artifact
 * files are real files of a few bytes; the records look like Qdrant collection backups (config,
 * aliases, a 3-point sample) so each manifest has a realistic size.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { ArtifactRecord } from '../../src/core/manifest.js';
import { createRepository } from '../../src/core/repository.js';
import { createSetSink, finishSet, startSet } from '../../src/core/set-lifecycle.js';

const CONFIG = {
  params: {
    vectors: { dense: { size: 384, distance: 'Cosine' } },
    sparse_vectors: { text: {} },
    shard_number: 1,
    replication_factor: 1,
    write_consistency_factor: 1,
    on_disk_payload: true,
  },
  hnsw_config: {
    m: 16,
    ef_construct: 100,
    full_scan_threshold: 10000,
    max_indexing_threads: 0,
    on_disk: false,
  },
  optimizer_config: {
    deleted_threshold: 0.2,
    vacuum_min_vector_number: 1000,
    default_segment_number: 0,
    max_segment_size: null,
    memmap_threshold: null,
    indexing_threshold: 20000,
    flush_interval_sec: 5,
    max_optimization_threads: null,
  },
  wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
  quantization_config: null,
};

const sha = (s: string | Buffer) => createHash('sha256').update(s).digest('hex');

/**
 * Writes `sets` backup sets of `perSet` Qdrant artifacts each into `root`, one set per hour going
 * back from now. Runs `concurrency` sets at a time.
 */
export async function makeBackupsFolder(
  root: string,
  opts: { sets: number; perSet: number; concurrency?: number },
): Promise<{ artifacts: number; sets: number }> {
  const repo = createRepository(root);
  await repo.init();
  const base = Date.now() - opts.sets * 3_600_000;
  let next = 0;
  let artifacts = 0;
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= opts.sets) return;
      const at = new Date(base + i * 3_600_000);
      const now = () => at;
      const set = await startSet(repo, 'backup-qdrant', at);
      const sink = createSetSink(repo, set, now);
      for (let j = 0; j < opts.perSet; j++) {
        const name = opts.perSet === 1 ? 'docs' : `collection-${j}`;
        const reserved = await sink.reserve('qdrant', `${name}-backup`, '.snapshot');
        const content = Buffer.from(`snapshot ${i}/${j}\n`);
        await writeFile(reserved.tempPath, content, { mode: 0o600 });
        const record: ArtifactRecord = {
          target: 'qdrant',
          kind: 'qdrant-collection',
          name,
          file: reserved.rel,
          status: 'pending',
          bytes: content.length,
          sha256: sha(content),
          serverChecksum: sha(content),
          checksumSource: 'server',
          serverVersion: '1.19.0',
          counts: { points: 1000 + i },
          sample: [1, 2, 3].map((k) => ({ id: k * 7 + i, hash: sha(`${i}:${j}:${k}`) })),
          startedAt: at.toISOString(),
          finishedAt: at.toISOString(),
          durationMs: 1234,
          details: {
            snapshotName: `${name}-1234567890-${at.toISOString().slice(0, 19).replace(/[T:]/g, '-')}.snapshot`,
            serverUrl: 'http://127.0.0.1:6333',
            config: CONFIG,
            aliases: [{ alias_name: `${name}-current`, collection_name: name }],
          },
        };
        await sink.commit(record, reserved.tempPath);
        artifacts++;
      }
      await finishSet(repo, set, at);
    }
  }
  await Promise.all(Array.from({ length: opts.concurrency ?? 8 }, worker));
  return { artifacts, sets: opts.sets };
}
