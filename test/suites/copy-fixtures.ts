/**
 * Fixtures for copy tests: a backups folder with synthetic sets written through the real
 * repository code (so manifests are exactly what backups write), and checks of a copy target's
 * invariants ("a set whose manifest is there has every artifact, byte for byte").
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { ArtifactRecord, SetManifest } from '../../src/core/manifest.js';
import { parseManifest, storedObject } from '../../src/core/manifest.js';
import { createRepository } from '../../src/core/repository.js';
import { createSetSink, finishSet, startSet } from '../../src/core/set-lifecycle.js';
import type { CopyBackend } from '../../src/storage/backend.js';
import { bigStream } from './copy-backend-suite.js';

/** Writes `sets` backup sets, each with a Qdrant snapshot and a Neo4j dump of `bytes` bytes. */
export async function syntheticRepository(
  root: string,
  opts: { sets: number; bytes: number; start?: Date },
): Promise<SetManifest[]> {
  const repo = createRepository(root);
  await repo.init();
  const out: SetManifest[] = [];
  const t0 = (opts.start ?? new Date('2026-11-01T02:00:00Z')).getTime();
  for (let i = 0; i < opts.sets; i++) {
    const now = new Date(t0 + i * 86_400_000);
    const set = await startSet(repo, 'backup-all', now);
    const sink = createSetSink(repo, set, () => now);
    for (const [target, base, ext, kind] of [
      ['qdrant', 'papers-backup', '.snapshot', 'qdrant-collection'],
      ['neo4j', 'neo4j', '.dump', 'neo4j-dump'],
    ] as const) {
      const r = await sink.reserve(target, base, ext);
      const data = bigStream(opts.bytes, i * 10 + (target === 'qdrant' ? 1 : 2));
      await pipeline(data.make(), createWriteStream(r.tempPath, { mode: 0o600 }));
      const rec: ArtifactRecord = {
        target,
        kind,
        name: target === 'qdrant' ? 'papers' : 'neo4j',
        file: r.rel,
        status: 'pending',
        bytes: opts.bytes,
        sha256: data.sha256,
        serverChecksum: null,
        checksumSource: 'self',
        serverVersion: target === 'qdrant' ? '1.19.0' : '5.26.0',
        counts: target === 'qdrant' ? { points: 10 } : { nodes: 5, relationships: 4 },
        startedAt: now.toISOString(),
        finishedAt: now.toISOString(),
        durationMs: 1,
      };
      await sink.commit(rec, r.tempPath);
    }
    await finishSet(repo, set, now);
    out.push(set);
  }
  return out;
}

/** Records in `set` that its Qdrant artifact failed a restore drill (as `verify --deep` does); returns it. */
export function markDrillFailed(set: SetManifest, detail: string): ArtifactRecord {
  const a = set.artifacts.find((x) => x.target === 'qdrant')!;
  a.verification = { at: new Date().toISOString(), ok: false, deep: true, detail };
  return a;
}

async function hashOf(backend: CopyBackend, key: string): Promise<{ bytes: number; sha256: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of await backend.get(key)) {
    h.update(c as Buffer);
    bytes += (c as Buffer).length;
  }
  return { bytes, sha256: h.digest('hex') };
}

/**
 * Checks the copy invariant: every set manifest on the target names artifacts that are all there
 * with the recorded bytes and sha256 (read back and hashed). Returns the ids of complete sets.
 */
export async function checkTargetInvariant(backend: CopyBackend): Promise<string[]> {
  const ids: string[] = [];
  for await (const o of backend.list('sets/')) {
    const chunks: Buffer[] = [];
    for await (const c of await backend.get(o.key)) chunks.push(c as Buffer);
    const set = parseManifest(Buffer.concat(chunks).toString('utf8'));
    assert.ok(typeof set !== 'string', `${o.key}: ${set}`);
    if (typeof set === 'string') continue;
    assert.ok(set.artifacts.length > 0, `${o.key} lists no artifacts`);
    for (const a of set.artifacts) {
      const stored = storedObject(a);
      const got = await hashOf(backend, stored.key);
      assert.deepEqual(
        got,
        { bytes: stored.bytes, sha256: stored.sha256 },
        `${stored.key} of ${set.id} is complete on the target`,
      );
    }
    ids.push(set.id);
  }
  return ids.sort();
}
