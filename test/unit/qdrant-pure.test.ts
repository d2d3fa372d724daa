import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDuration } from '../../src/core/time.js';
import { errorText, httpError } from '../../src/targets/qdrant/qdrant-errors.js';
import { canonicalJson, compareSample, samplePoints } from '../../src/targets/qdrant/qdrant-sample.js';
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
