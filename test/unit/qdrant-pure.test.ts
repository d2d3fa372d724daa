import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../src/core/time.js';
import { errorText, httpError, mayStillRun } from '../../src/targets/qdrant/qdrant-errors.js';
import { canonicalJson, compareSample, samplePoints } from '../../src/targets/qdrant/qdrant-sample.js';
import { settingsDiff } from '../../src/targets/qdrant/qdrant-settings.js';
import { restoreIncompatibility } from '../../src/targets/qdrant/qdrant-version.js';

test('Qdrant restore compatibility: same or next minor only', () => {
  assert.equal(restoreIncompatibility('1.18.2', '1.18.0'), undefined);
  assert.equal(restoreIncompatibility('1.18.2', '1.19.0'), undefined);
  assert.match(restoreIncompatibility('1.17.0', '1.19.0')!, /only into 1\.17\.x or 1\.18\.x/);
  assert.match(restoreIncompatibility('1.19.0', '1.18.5')!, /newer than the server/);
  assert.match(restoreIncompatibility('1.19.0', '2.0.0')!, /major/);
});

test('canonical JSON ignores key order; samples detect any change', () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, 2], c: null } }),
    canonicalJson({ a: { c: null, d: [1, 2] }, b: 1 }),
  );
  const pts = [
    { id: 1, vector: [0.1, 0.2], payload: { t: 'x' } },
    { id: 'a-uuid', vector: { dense: [1], sparse: { indices: [3], values: [0.5] } }, payload: null },
  ];
  const s = samplePoints(pts);
  assert.deepEqual(compareSample(s, pts), []);
  assert.deepEqual(compareSample(s, [{ ...pts[0]!, payload: { t: 'y' } }, pts[1]!]), ['1']);
  assert.deepEqual(compareSample(s, [pts[0]!]), ['a-uuid']);
});

test('HTTP errors become one clear line', () => {
  assert.equal(
    errorText('{"status":{"error":"Not found: Collection `x` doesn\'t exist!"},"time":0}'),
    "Not found: Collection `x` doesn't exist!",
  );
  assert.equal(httpError('http://q', 'list', 401, 'Invalid API key').code, 'E_AUTH');
  assert.match(httpError('http://q', 'create', 403, 'x').hint!, /manage/);
  assert.match(
    httpError('http://q', 'create', 500, '{"status":{"error":"No space left on device (os error 28)"}}')
      .message,
    /disk is full/,
  );
  assert.equal(httpError('http://q', 'get', 404, '').code, 'E_NOT_FOUND');
});

test('durations', () => {
  assert.equal(parseDuration('26h'), 26 * 3.6e6);
  assert.equal(parseDuration('1h30m'), 5.4e6);
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('soon'), undefined);
});

test('restored settings: recorded ones must match; fields a newer Qdrant adds are not compared', () => {
  const recorded = {
    params: { vectors: { size: 2, distance: 'Dot' }, on_disk_payload: true },
    hnsw_config: { m: 32, ef_construct: 100 },
    quantization_config: null,
    wal_config: { wal_capacity_mb: 64 },
  };
  const same = {
    ...recorded,
    hnsw_config: { m: 32, ef_construct: 100, inline_storage: false },
    wal_config: { wal_capacity_mb: 32 },
  };
  assert.deepEqual(settingsDiff(recorded, same), []);
  const drifted = {
    ...recorded,
    hnsw_config: { m: 4, ef_construct: 100 },
    params: { ...recorded.params, on_disk_payload: false },
  };
  assert.deepEqual(settingsDiff(recorded, drifted), [
    'hnsw_config.m: 32 → 4',
    'params.on_disk_payload: true → false',
  ]);
  assert.deepEqual(settingsDiff(undefined, drifted), []);
});

test('a proxy error page is named by its title; 502/504 count as work that may still run', () => {
  const e = httpError(
    'http://q',
    'upload snapshot to "c"',
    504,
    '<html><head><title>504 Gateway Time-out</title></head></html>',
  );
  assert.match(e.message, /HTTP 504: 504 Gateway Time-out \(from a proxy\)/);
  assert.equal(mayStillRun(e), true);
  assert.equal(mayStillRun(httpError('http://q', 'x', 500, 'boom')), false);
});
