/**
 * `qnb doctor`: one line per prerequisite with ✔/✘ and the fix; non-zero when something is wrong.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createQnbWorld } from '../helpers/qnb-world.js';

test('doctor: all good with Qdrant only; each problem named with its fix', async (t) => {
  const world = await createQnbWorld(t, { apiKey: 'doctor-key-1' });
  const good = await world.qnb(['doctor', '--skip-neo4j']);
  assert.equal(good.code, 0, good.stdout + good.stderr);
  assert.match(good.stdout, /✔ qdrant: Qdrant reachable — http:\/\/127\.0\.0\.1:\d+ \(Qdrant 1\.19\.0\)/);
  assert.match(good.stdout, /✔ qdrant: API key accepted/);
  assert.match(good.stdout, /✔ backups: backups folder writable/);
  assert.match(good.stdout, /Everything qnb needs is in place\./);

  const wrongKey = await world.qnb(['doctor', '--skip-neo4j'], { QDRANT_API_KEY: 'not-the-key' });
  assert.equal(wrongKey.code, 1);
  assert.match(wrongKey.stdout, /✘ qdrant: API key accepted — .*401.* — fix: set QDRANT_API_KEY/);
  assert.ok(!wrongKey.stdout.includes('not-the-key'));

  const missingCollection = await world.qnb(['doctor', '--skip-neo4j'], {
    QDRANT_COLLECTIONS: 'papers,nope',
  });
  assert.equal(missingCollection.code, 1);
  assert.match(
    missingCollection.stdout,
    /✘ qdrant: collections — not found: nope \(existing: .*papers.*\) — fix: fix QDRANT_COLLECTIONS/,
  );

  const noHome = await world.qnb(['doctor', '--skip-qdrant'], { NEO4J_HOME: join(world.cwd, 'nowhere') });
  assert.equal(noHome.code, 1);
  assert.match(
    noHome.stdout,
    /✘ neo4j: neo4j-admin present — NEO4J_HOME .*nowhere: no bin\/neo4j-admin there/,
  );

  const notConfigured = await world.qnb(['doctor', '--skip-qdrant']);
  assert.match(notConfigured.stdout, /✘ neo4j: Neo4j configured — .* — fix: set NEO4J_CONTAINER/);

  const badDir = await world.qnb(['doctor', '--skip-neo4j', '--backup-dir', '/dev/null/backups']);
  assert.equal(badDir.code, 1);
  assert.match(badDir.stdout, /✘ backups: backups folder writable/);

  const json = await world.qnb(['doctor', '--skip-neo4j', '--json']);
  const parsed = JSON.parse(json.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
  assert.equal(parsed.ok, true);
  assert.ok(parsed.checks.length >= 4);
});

test('doctor: age encryption — an identity that opens none of the recipients is named, never shown', async (t) => {
  const world = await createQnbWorld(t);
  const { generateIdentity, identityToRecipient } = await import('age-encryption');
  const [mine, other] = [await generateIdentity(), await generateIdentity()];
  const recipient = await identityToRecipient(mine);

  const sendOnly = await world.qnb(['doctor', '--skip-neo4j'], { QNB_AGE_RECIPIENTS: recipient });
  assert.equal(sendOnly.code, 0, sendOnly.stdout + sendOnly.stderr);
  assert.match(
    sendOnly.stdout,
    /✔ config: age encryption of copies — copies are encrypted to 1 recipient\(s\); no identity/,
  );

  const matching = await world.qnb(['doctor', '--skip-neo4j'], {
    QNB_AGE_RECIPIENTS: recipient,
    QNB_AGE_IDENTITY: mine,
  });
  assert.equal(matching.code, 0, matching.stdout + matching.stderr);
  assert.match(matching.stdout, /✔ config: age encryption of copies — .*the identity here opens them/);

  const wrong = await world.qnb(['doctor', '--skip-neo4j'], {
    QNB_AGE_RECIPIENTS: recipient,
    QNB_AGE_IDENTITY: other,
  });
  assert.equal(wrong.code, 1);
  assert.match(
    wrong.stdout,
    /✘ config: age encryption of copies — no identity in QNB_AGE_IDENTITY matches a recipient .* — fix: put the public key/,
  );
  for (const run of [matching, wrong]) assert.ok(!(run.stdout + run.stderr).includes('AGE-SECRET-KEY-'));
});
