/**
 * The export file's value codec: every Neo4j property type survives encode → JSON text → decode
 * with its type and every component (no server needed; the e2e test does the real round trip).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import neo4j from 'neo4j-driver';
import { checkExportFile } from '../../src/targets/neo4j/neo4j-export-format.js';
import { createValueCodec } from '../../src/targets/neo4j/neo4j-value-codec.js';

const codec = createValueCodec(neo4j);
const t = neo4j.types;
const viaText = (v: unknown) => codec.decode(JSON.parse(JSON.stringify(codec.encode(v))));

/** Every kind of value a property can hold, with a check that the decoded one is the same. */
const cases: [string, unknown, (back: unknown) => void][] = [
  ['small integer', neo4j.int(42), (b) => assert.ok(neo4j.isInt(b) && b.toString() === '42')],
  ['integer beyond 2^53', neo4j.int('9007199254740993'), (b) => assert.equal(String(b), '9007199254740993')],
  ['max int64', neo4j.int('9223372036854775807'), (b) => assert.equal(String(b), '9223372036854775807')],
  ['min int64', neo4j.int('-9223372036854775808'), (b) => assert.equal(String(b), '-9223372036854775808')],
  ['float', 0.1 + 0.2, (b) => assert.equal(b, 0.1 + 0.2)],
  ['whole float stays a float', 3, (b) => assert.ok(typeof b === 'number' && !neo4j.isInt(b))],
  ['NaN', Number.NaN, (b) => assert.ok(Number.isNaN(b))],
  ['Infinity', Number.POSITIVE_INFINITY, (b) => assert.equal(b, Number.POSITIVE_INFINITY)],
  ['-Infinity', Number.NEGATIVE_INFINITY, (b) => assert.equal(b, Number.NEGATIVE_INFINITY)],
  ['-0', -0, (b) => assert.ok(Object.is(b, -0))],
  ['huge float', 1e300, (b) => assert.equal(b, 1e300)],
  ['string', 'ünïcödé\n"x"\u0000', (b) => assert.equal(b, 'ünïcödé\n"x"\u0000')],
  ['boolean', false, (b) => assert.equal(b, false)],
  [
    'byte array',
    new Int8Array([0, 1, -2, 127, -128]),
    (b) => assert.deepEqual([...(b as Int8Array)], [0, 1, -2, 127, -128]),
  ],
  ['empty byte array', new Int8Array([]), (b) => assert.ok(b instanceof Int8Array && b.length === 0)],
  [
    'list of integers',
    [neo4j.int(1), neo4j.int('9007199254740993')],
    (b) => assert.deepEqual((b as unknown[]).map(String), ['1', '9007199254740993']),
  ],
  ['list of floats', [0.5, -1.25], (b) => assert.deepEqual(b, [0.5, -1.25])],
  ['list of strings', ['a', ''], (b) => assert.deepEqual(b, ['a', ''])],
  ['empty list', [], (b) => assert.deepEqual(b, [])],
  ['date', new t.Date(2020, 2, 29), (b) => assert.ok(neo4j.isDate(b) && String(b) === '2020-02-29')],
  ['date BC', new t.Date(-44, 3, 15), (b) => assert.equal(String(b), '-000044-03-15')],
  [
    'time with offset',
    new t.Time(12, 34, 56, 123456789, 19800),
    (b) => assert.ok(neo4j.isTime(b) && String(b) === '12:34:56.123456789+05:30'),
  ],
  [
    'local time',
    new t.LocalTime(0, 0, 0, 1),
    (b) => assert.ok(neo4j.isLocalTime(b) && String(b) === '00:00:00.000000001'),
  ],
  [
    'local datetime',
    new t.LocalDateTime(2024, 2, 29, 23, 59, 59, 999999999),
    (b) => assert.ok(neo4j.isLocalDateTime(b) && String(b) === '2024-02-29T23:59:59.999999999'),
  ],
  [
    'datetime with offset',
    new t.DateTime(2024, 6, 1, 12, 0, 0, 0, -10800),
    (b) => assert.ok(neo4j.isDateTime(b) && String(b) === '2024-06-01T12:00:00-03:00'),
  ],
  [
    'datetime with zone id and offset (DST fall-back)',
    new t.DateTime(2025, 10, 26, 2, 30, 0, 0, 3600, 'Europe/Berlin'),
    (b) => assert.equal(String(b), '2025-10-26T02:30:00+01:00[Europe/Berlin]'),
  ],
  [
    'datetime with zone id only',
    new t.DateTime(2025, 1, 1, 0, 0, 0, 0, undefined, 'Asia/Tokyo'),
    (b) => assert.equal((b as { timeZoneId: string }).timeZoneId, 'Asia/Tokyo'),
  ],
  [
    'duration (negative, big seconds)',
    new t.Duration(neo4j.int(-14), neo4j.int(-3), neo4j.int('9007199254740993'), neo4j.int(700000000)),
    (b) => {
      const d = b as { months: unknown; days: unknown; seconds: unknown; nanoseconds: unknown };
      assert.ok(neo4j.isDuration(b));
      assert.deepEqual([d.months, d.days, d.seconds, d.nanoseconds].map(String), [
        '-14',
        '-3',
        '9007199254740993',
        '700000000',
      ]);
    },
  ],
  [
    'cartesian 2D point',
    new t.Point(neo4j.int(7203), 1.5, -2),
    (b) => assert.equal(String(b), 'Point{srid=7203, x=1.5, y=-2.0}'),
  ],
  [
    'cartesian 3D point',
    new t.Point(neo4j.int(9157), 1, 2, 3),
    (b) => assert.equal(String(b), 'Point{srid=9157, x=1.0, y=2.0, z=3.0}'),
  ],
  [
    'WGS-84 2D point',
    new t.Point(neo4j.int(4326), 13.4, 52.5),
    (b) => assert.equal(String(b), 'Point{srid=4326, x=13.4, y=52.5}'),
  ],
  [
    'WGS-84 3D point',
    new t.Point(neo4j.int(4979), 13.4, 52.5, 34.5),
    (b) => assert.ok(neo4j.isPoint(b) && String(b) === 'Point{srid=4979, x=13.4, y=52.5, z=34.5}'),
  ],
  [
    'list of dates',
    [new t.Date(2020, 1, 1), new t.Date(1999, 12, 31)],
    (b) => assert.deepEqual((b as unknown[]).map(String), ['2020-01-01', '1999-12-31']),
  ],
];

for (const [name, value, check] of cases) {
  test(`value codec round trip: ${name}`, () => {
    const back = viaText(value);
    check(back);
    // and the encoding is stable: encoding the decoded value gives the same JSON
    assert.equal(JSON.stringify(codec.encode(back)), JSON.stringify(codec.encode(value)));
  });
}

test('value codec: integers are strings and floats numbers in the file', () => {
  assert.deepEqual(codec.encode(neo4j.int('9007199254740993')), { int: '9007199254740993' });
  assert.deepEqual(codec.encode(2), { float: 2 });
  assert.deepEqual(codec.encode(new Int8Array([1, -1])), { bytes: 'Af8=' });
});

test('value codec: what cannot be a property, or a broken tag, is one clear error', () => {
  assert.throws(() => codec.encode(null), /cannot store a null value/);
  assert.throws(() => codec.encodeProperties({ m: new Map() }), /property "m": cannot store a Map value/);
  assert.throws(() => codec.decode({ int: 1.5 }), /not an integer/);
  assert.throws(() => codec.decode({ complex: 1 }), /unknown value type "complex"/);
  assert.throws(() => codec.decode({ int: '1', float: 2 }), /not a tagged value/);
  assert.throws(() => codec.decode({ date: [2020, 1] }), /"date" needs 3 components/);
  assert.throws(() => codec.decodeProperties({ x: { float: 'big' } }), /property "x": not a float/);
});

test('export file check: truncated, out of order, wrong counts and garbage are refused', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'qnb-export-unit-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const header = {
    kind: 'header',
    format: 'qnb-neo4j-export',
    version: 1,
    neo4jVersion: '5.26.0',
    database: 'neo4j',
    createdAt: '2025-01-01T00:00:00.000Z',
    counts: { nodes: 1, relationships: 0 },
  };
  const node = { kind: 'node', id: 'a', labels: ['X'], properties: { n: { int: '1' } } };
  const end = { kind: 'end', counts: { nodes: 1, relationships: 0 } };
  const file = async (name: string, lines: unknown[], gzip = true) => {
    const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
    await writeFile(join(dir, name), gzip ? gzipSync(text) : text);
    return join(dir, name);
  };
  const ok = await checkExportFile(await file('ok', [header, node, end]), 'ok', codec);
  assert.deepEqual(ok.counts, { nodes: 1, relationships: 0 });
  // elementId-shaped ids (kept as bits) and hand-made ones (kept as strings)
  const ids = ['4:db-1:0', '4:db-1:9', 'a'].map((id) => ({ ...node, id }));
  const rel = (start: string, end: string) => ({
    kind: 'relationship',
    id: 'r',
    type: 'T',
    start,
    end,
    properties: {},
  });
  const ends = (nodes: number, relationships: number) => ({ kind: 'end', counts: { nodes, relationships } });
  const linked = [header, ...ids, rel('4:db-1:0', '4:db-1:9'), rel('a', '4:db-1:0'), ends(3, 2)];
  assert.deepEqual((await checkExportFile(await file('linked', linked), 'linked', codec)).counts, {
    nodes: 3,
    relationships: 2,
  });
  const bad: [string, unknown[], RegExp, boolean?][] = [
    ['truncated', [header, node], /no end line \(the file is truncated\)/],
    ['counts', [header, node, { ...end, counts: { nodes: 2, relationships: 0 } }], /end line says 2 nodes/],
    ['order', [node, header, end], /first line is not a header/],
    ['version', [{ ...header, version: 9 }, end], /format version 9/],
    ['json', [header, '{nope', end], /line 2: /],
    ['value', [header, { ...node, properties: { n: { int: 'x' } } }, end], /node a: property "n"/],
    ['not gzip', [header, end], /not a readable qnb Neo4j export/, false],
    [
      'dangling',
      [header, node, rel('a', 'nowhere'), ends(1, 1)],
      /dangling: not a readable qnb Neo4j export: relationship r: its end node nowhere is not in the file/,
    ],
    [
      'dangling-id',
      [header, ...ids, rel('4:db-1:8', 'a'), ends(3, 1)],
      /its start node 4:db-1:8 is not in the file/,
    ],
    [
      'other-db',
      [header, ...ids, rel('a', '4:db-2:9'), ends(3, 1)],
      /its end node 4:db-2:9 is not in the file/,
    ],
  ];
  for (const [name, lines, message, gzip] of bad)
    await assert.rejects(checkExportFile(await file(name, lines, gzip), name, codec), message, name);
});
