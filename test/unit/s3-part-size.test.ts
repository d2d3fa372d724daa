/**
 * The multipart part size follows the object's size: never past S3's 10,000 parts or its 5 GiB
 * part, whole MiB, the configured size as the floor; an object S3 cannot hold is refused up front.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  concurrencyFor,
  DEFAULT_PART_SIZE,
  MAX_PART_SIZE,
  MAX_PARTS,
  MIN_PART_SIZE,
  partSizeFor,
} from '../../src/storage/s3/s3-config.js';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

test('part size: configured floor, whole MiB, within 9,000 parts up to S3 limits', () => {
  assert.equal(
    partSizeFor(2 * GiB, DEFAULT_PART_SIZE),
    8 * MiB,
    'a 2 GiB snapshot: 8 MiB parts (256 of them)',
  );
  assert.equal(partSizeFor(1000, DEFAULT_PART_SIZE), 8 * MiB);
  assert.equal(partSizeFor(1000, 1), MIN_PART_SIZE, 'never below S3 minimum');
  assert.equal(partSizeFor(TiB, DEFAULT_PART_SIZE), 117 * MiB);
  for (const size of [78 * GiB, 100 * GiB + 1, TiB, 5 * TiB, 40 * TiB, 48 * TiB, 10_000 * MAX_PART_SIZE]) {
    const part = partSizeFor(size, DEFAULT_PART_SIZE);
    assert.equal(part % MiB, 0, `${size}: whole MiB`);
    assert.ok(part <= MAX_PART_SIZE, `${size}: part ${part} within 5 GiB`);
    assert.ok(Math.ceil(size / part) <= MAX_PARTS, `${size}: ${Math.ceil(size / part)} parts within 10,000`);
    if (size <= 40 * TiB) assert.ok(Math.ceil(size / part) <= 9_000, `${size}: within 9,000 parts`);
  }
  // 100 GiB: ceil(100 GiB / 9000) rounds up to 12 MiB, 8534 parts
  assert.equal(partSizeFor(100 * GiB, DEFAULT_PART_SIZE), 12 * MiB);
});

test('an object larger than 10,000 parts of 5 GiB is refused before any request', () => {
  assert.throws(
    () => partSizeFor(10_000 * MAX_PART_SIZE + 1, DEFAULT_PART_SIZE),
    (e: { code?: string; message: string }) =>
      e.code === 'E_UNSUPPORTED' && /larger than S3 can store/.test(e.message),
  );
});

test('parts in flight shrink as parts grow, so part buffers stay within 128 MiB (never below one)', () => {
  assert.equal(concurrencyFor(8 * MiB, 3), 3, 'default: 3 × 8 MiB parts in flight');
  assert.equal(concurrencyFor(12 * MiB, 8), 8);
  assert.equal(concurrencyFor(40 * MiB, 3), 2, '(2 + 1) × 40 MiB = 120 MiB');
  const part = partSizeFor(TiB, DEFAULT_PART_SIZE);
  assert.equal(concurrencyFor(part, 3), 1, 'a 1 TiB snapshot (117 MiB parts): one in flight');
  assert.equal(concurrencyFor(MAX_PART_SIZE, 3), 1);
  for (const [p, c] of [
    [8, 3],
    [16, 6],
    [33, 4],
    [64, 3],
  ] as const) {
    const n = concurrencyFor(p * MiB, c);
    assert.ok((n + 1) * p * MiB <= 128 * MiB || n === 1, `${p} MiB × ${n}`);
  }
});
