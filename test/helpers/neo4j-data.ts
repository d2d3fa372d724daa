/**
 * A graph with every kind of Neo4j value, an index and a constraint, and a canonical hash of a
 * whole graph (labels, types, properties with type tags, endpoints by `uid`), so tests can say
 * "exactly the same graph" after backup → wreck → restore.
 */
import { createHash } from 'node:crypto';
import neo4j from 'neo4j-driver';

/** A driver for the test Neo4j (logging off). */
export function driverFor(url: string, password: string) {
  return neo4j.driver(url, neo4j.auth.basic('neo4j', password), {
    logging: { level: 'error', logger: () => {} },
  });
}

/** Creates the test graph (idempotent only on an empty database). */
export async function seedTypedGraph(url: string, password: string, papers = 60): Promise<void> {
  const d = driverFor(url, password);
  try {
    await d.executeQuery('CREATE CONSTRAINT paper_uid IF NOT EXISTS FOR (p:Paper) REQUIRE p.uid IS UNIQUE');
    await d.executeQuery('CREATE INDEX concept_name IF NOT EXISTS FOR (c:Concept) ON (c.name)');
    await d.executeQuery(
      `UNWIND range(1, $n) AS i
       CREATE (p:Paper:Document {uid: 'p' + i, title: 'Paper ' + i + ' — ünïcödé', year: 1990 + i % 30,
         big: 9007199254740993 + i, score: i / 7.0, open: i % 2 = 0, tags: ['ml', 't' + (i % 5)],
         published: date({year: 2000 + i % 20, month: 1 + i % 12, day: 1 + i % 28}),
         indexedAt: datetime({year: 2025, month: 10, day: 24, hour: i % 24, minute: 30, timezone: 'Europe/Berlin'}),
         took: duration({hours: i, minutes: 5}), loc: point({x: i, y: -i}), geo: point({latitude: 52.5, longitude: 13.4 + i / 100}),
         raw: $bytes, localTime: localtime({hour: 10, minute: i % 60})})
       MERGE (c:Concept {uid: 'c' + (i % 9), name: 'concept-' + (i % 9)})
       CREATE (p)-[:MENTIONS {weight: i % 5, since: date({year: 2020, month: 1, day: 1})}]->(c)`,
      // the driver sends an Int8Array as a byte array (a Uint8Array would become a list of floats)
      { n: neo4j.int(papers), bytes: new Int8Array([0, 1, 2, -2, -1]) },
    );
    // every other property type: extreme integers, special floats, lists, each temporal kind
    // (a DST fall-back time that only its offset tells apart), 3D points, negative durations
    await d.executeQuery(
      `CREATE (e:Edge:Case {uid: 'edge-1', nan: 0.0 / 0.0, inf: 1.0 / 0.0, ninf: -1.0 / 0.0, negzero: -0.0,
         minInt: -9223372036854775808, maxInt: 9223372036854775807, ints: [1, 9007199254740993, -5],
         floats: [0.5, -1.25, 1e300], bools: [true, false], strings: ['', 'a\nb', '"quoted"'], empty: [],
         dates: [date('2020-02-29'), date({year: -44, month: 3, day: 15})], time: time('12:34:56.123456789+05:30'),
         ldt: localdatetime('2024-02-29T23:59:59.999999999'), dtOffset: datetime('2024-06-01T12:00:00-03:00'),
         dtFallBack: datetime('2025-10-26T02:30:00+01:00[Europe/Berlin]'), lt: localtime('00:00:00.000000001'),
         p3: point({x: 1.5, y: -2, z: 3}), geo3: point({longitude: 13.4, latitude: 52.5, height: 34.5}),
         durNeg: duration('-P1Y2M3DT4H5M6.7S'), durBig: duration({seconds: 9007199254740993}),
         noBytes: $none})
       WITH e MATCH (p:Paper {uid: 'p1'})
       CREATE (e)-[:LINKS {ints: [1, 2], at: localtime('01:02:03'), bytes: $bytes, w: 0.1}]->(p)`,
      { bytes: new Int8Array([127, -128]), none: new Int8Array([]) },
    );
    await d.executeQuery(
      "MATCH (a:Paper), (b:Paper) WHERE a.year = b.year AND a.uid < b.uid CREATE (a)-[:CITES {note: 'same year'}]->(b)",
    );
    await d.executeQuery(
      "CREATE (:Person {uid: 'author-1', name: 'Ada'})-[:AUTHORED_BY_INV {order: 1}]->(:Paper {uid: 'orphan-paper'})",
    );
  } finally {
    await d.close();
  }
}

function tagged(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (Array.isArray(v)) return v.map(tagged);
  if (ArrayBuffer.isView(v))
    return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
  if (neo4j.isInt(v)) return { int: v.toString() };
  if (typeof v === 'number') return { float: Object.is(v, -0) ? '-0' : String(v) };
  if (typeof v === 'object') {
    const name = (v as object).constructor?.name ?? 'Object';
    if (name !== 'Object') return { [name]: String(v) };
    return Object.fromEntries(
      Object.entries(v as object)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, tagged(x)]),
    );
  }
  return v;
}

/** sha256 over every node, relationship, index and constraint, independent of internal ids. */
export async function graphHash(
  url: string,
  password: string,
): Promise<{ hash: string; nodes: number; relationships: number; schema: string[] }> {
  const d = driverFor(url, password);
  try {
    const nodes = await d.executeQuery('MATCH (n) RETURN labels(n) AS l, properties(n) AS p');
    const rels = await d.executeQuery(
      'MATCH (a)-[r]->(b) RETURN a.uid AS a, type(r) AS t, properties(r) AS p, b.uid AS b',
    );
    const idx = await d.executeQuery(
      "SHOW INDEXES YIELD name, type, labelsOrTypes, properties WHERE type <> 'LOOKUP' RETURN name, labelsOrTypes, properties",
    );
    const lines = [
      ...nodes.records.map((r) =>
        JSON.stringify(['N', [...(r.get('l') as string[])].sort(), tagged(r.get('p'))]),
      ),
      ...rels.records.map((r) =>
        JSON.stringify(['R', r.get('a'), r.get('t'), tagged(r.get('p')), r.get('b')]),
      ),
    ].sort();
    const schema = idx.records
      .map((r) => `${r.get('name')}:${r.get('labelsOrTypes')}:${r.get('properties')}`)
      .sort();
    const hash = createHash('sha256').update(lines.join('\n')).update(schema.join('\n')).digest('hex');
    return { hash, nodes: nodes.records.length, relationships: rels.records.length, schema };
  } finally {
    await d.close();
  }
}

/** Deletes half the papers and adds junk. */
export async function wreckGraph(url: string, password: string): Promise<void> {
  const d = driverFor(url, password);
  try {
    await d.executeQuery('MATCH (p:Paper) WHERE p.year % 2 = 0 DETACH DELETE p');
    await d.executeQuery("CREATE (:Junk {note: 'written after the backup'})");
  } finally {
    await d.close();
  }
}

/** Deletes every node and relationship (an emptied database). */
export async function emptyGraph(url: string, password: string): Promise<void> {
  const d = driverFor(url, password);
  try {
    await d.executeQuery('MATCH (n) DETACH DELETE n');
  } finally {
    await d.close();
  }
}
