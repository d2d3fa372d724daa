/**
 * Test data for Qdrant, written and read through the official client (unchanged), so the
 * tests also prove that the test server speaks Qdrant's API.
 */
import { randomUUID } from 'node:crypto';
import { QdrantClient } from '@qdrant/js-client-rest';
import { canonicalJson } from '../../src/targets/qdrant/qdrant-sample.js';

/** An official client for a test server. */
export function clientFor(url: string, apiKey?: string): QdrantClient {
  return new QdrantClient({
    url,
    checkCompatibility: false,
    ...(apiKey ? { headers: { 'api-key': apiKey } } : {}),
  });
}

/** Deterministic pseudo-random numbers. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return Math.round((s / 2 ** 32) * 1e6) / 1e6;
  };
}

/**
 * Creates `papers` (named dense vector + sparse vector, int and UUID ids, nested payloads),
 * `chunks` (one unnamed vector) and aliases `library` → papers, `current-chunks` → chunks.
 */
export async function seedCollections(
  client: QdrantClient,
  opts: { papers?: number; chunks?: number } = {},
): Promise<void> {
  const r = rng(42);
  await client.createCollection('papers', {
    vectors: { dense: { size: 4, distance: 'Cosine' } },
    sparse_vectors: { text: {} },
  });
  const papers = Array.from({ length: opts.papers ?? 40 }, (_, i) => ({
    id: i % 3 === 0 ? randomUUID() : i + 1,
    vector: {
      dense: [r() + 0.01, r(), r(), r()],
      text: { indices: [i, i + 7, i + 100], values: [r(), r(), r()] },
    },
    payload: {
      title: `Paper ${i}`,
      year: 1990 + (i % 30),
      tags: ['ml', `t${i % 5}`],
      meta: { cited: i * 3, open: i % 2 === 0 },
    },
  }));
  await client.upsert('papers', { wait: true, points: papers });
  await client.createCollection('chunks', { vectors: { size: 8, distance: 'Dot' } });
  const chunks = Array.from({ length: opts.chunks ?? 120 }, (_, i) => ({
    id: 1000 + i,
    vector: Array.from({ length: 8 }, () => r()),
    payload: { paper: i % 40, text: `chunk ${i} — ünïcödé ✓` },
  }));
  for (let i = 0; i < chunks.length; i += 50)
    await client.upsert('chunks', { wait: true, points: chunks.slice(i, i + 50) });
  await client.updateCollectionAliases({
    actions: [
      { create_alias: { alias_name: 'library', collection_name: 'papers' } },
      { create_alias: { alias_name: 'current-chunks', collection_name: 'chunks' } },
    ],
  });
}

/** Every point of a collection (ids, vectors, payloads) as canonical JSON, sorted by id. */
export async function dumpCollection(client: QdrantClient, name: string): Promise<string[]> {
  const out: string[] = [];
  let offset: string | number | undefined | null;
  do {
    const page = await client.scroll(name, {
      limit: 64,
      with_payload: true,
      with_vector: true,
      ...(offset != null ? { offset } : {}),
    });
    for (const p of page.points) out.push(canonicalJson({ id: p.id, vector: p.vector, payload: p.payload }));
    offset = page.next_page_offset as string | number | null | undefined;
  } while (offset != null);
  return out.sort();
}

/** Aliases as `alias→collection`, sorted. */
export async function aliasList(client: QdrantClient): Promise<string[]> {
  return (await client.getAliases()).aliases.map((a) => `${a.alias_name}→${a.collection_name}`).sort();
}
