/**
 * storage/s3/s3-sign.ts against AWS's published example of a signed GET ("GET Object" in
 * "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk"),
 * and the path encoding S3 expects.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { amzDate, EMPTY_SHA256, s3Path, signGet } from '../../src/storage/s3/s3-sign.js';

test("AWS's GET Object example: the same signature, the secret nowhere in the headers", () => {
  const secretAccessKey = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const h = signGet({
    host: 'examplebucket.s3.amazonaws.com',
    path: '/test.txt',
    headers: { Range: 'bytes=0-9' },
    region: 'us-east-1',
    keys: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey },
    now: new Date('2013-05-24T00:00:00Z'),
  });
  assert.equal(
    h.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
  );
  assert.equal(h['x-amz-content-sha256'], EMPTY_SHA256);
  assert.equal(h['x-amz-date'], '20130524T000000Z');
  assert.equal(h.range, 'bytes=0-9');
  assert.doesNotMatch(JSON.stringify(h), /wJalrXUtnFEMI/);
  // a session token is sent and signed
  const s = signGet({
    host: 'h',
    path: '/b/k',
    headers: {},
    region: 'eu-west-1',
    keys: { accessKeyId: 'A', secretAccessKey: 'S', sessionToken: 'T' },
    now: new Date(),
  });
  assert.equal(s['x-amz-security-token'], 'T');
  assert.match(
    s.authorization ?? '',
    /SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,/,
  );
});

test('keys are encoded per segment as S3 signs them; dates in the basic ISO form', () => {
  assert.equal(s3Path('bkt', 'qdrant/a b+c(1)*!.snapshot'), '/bkt/qdrant/a%20b%2Bc%281%29%2A%21.snapshot');
  assert.equal(s3Path('bkt', 'x/ü~_-.y'), '/bkt/x/%C3%BC~_-.y');
  assert.equal(amzDate(new Date('2026-12-05T07:05:09.123Z')), '20261205T070509Z');
});
