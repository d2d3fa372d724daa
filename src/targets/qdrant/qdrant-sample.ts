/**
 * Canonical hashes of points, recorded at backup time and compared after a restore.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../core/canonical-json.js';
import type { SampleRecord } from '../../core/manifest.js';
import type { QdrantPoint } from './qdrant-api.js';

export { canonicalJson };

/** sha256 of a point's vectors and payload. */
export function pointHash(p: QdrantPoint): string {
  return createHash('sha256')
    .update(canonicalJson({ vector: p.vector ?? null, payload: p.payload ?? null }))
    .digest('hex');
}

/** Sample records for a list of points. */
export function samplePoints(points: QdrantPoint[]): SampleRecord[] {
  return points.map((p) => ({ id: p.id, hash: pointHash(p) }));
}

/** Ids of sampled points whose hash differs or which are missing in `actual`. */
export function compareSample(expected: SampleRecord[], actual: QdrantPoint[]): string[] {
  const byId = new Map(actual.map((p) => [String(p.id), pointHash(p)]));
  return expected.filter((s) => byId.get(String(s.id)) !== s.hash).map((s) => String(s.id));
}
