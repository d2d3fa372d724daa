/**
 * Several collections overlap (issue 14): the next collection's snapshot is created on the server
 * while the current one downloads — and a failure or an interrupt is handled exactly as one
 * after another: the failed collection is recorded, the others stay valid, every snapshot
 * created on the server is deleted.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createQnbWorld, type QnbWorld } from '../helpers/qnb-world.js';
import type { ResponseRecord } from '../servers/qdrant/index.js';

const isCreate = (c: string) => (r: { method: string; path: string }) =>
  r.method === 'POST' && r.path === `/collections/${c}/snapshots`;
const isDownload = (c: string) => (r: { method: string; path: string }) =>
  r.method === 'GET' && r.path.startsWith(`/collections/${c}/snapshots/`);

/** A world whose server notes, when papers' download response ends, how many requests had arrived. */
async function overlapWorld(t: Parameters<typeof createQnbWorld>[0]) {
  const seen: { arrivedBeforePapersDone?: number } = {};
  let world: QnbWorld | undefined;
  const onResponse = (r: ResponseRecord) => {
    if (world && isDownload('papers')(r)) seen.arrivedBeforePapersDone ??= world.server.requests.length;
  };
  world = await createQnbWorld(t, { server: { onResponse } });
  // papers downloads slowly (twice 2 s): room for chunks' snapshot to be created meanwhile
  world.server.inject({
    op: 'download-snapshot',
    collection: 'papers',
    fault: { kind: 'slow', delayMs: 2000 },
    times: Number.POSITIVE_INFINITY,
  });
  return { world, seen };
}

/** Whether chunks' snapshot creation arrived while papers was still downloading. */
function createdDuringDownload(world: QnbWorld, seen: { arrivedBeforePapersDone?: number }): boolean {
  const at = world.server.requests.findIndex(isCreate('chunks'));
  assert.ok(at >= 0, 'chunks snapshot was requested');
  assert.ok(seen.arrivedBeforePapersDone !== undefined, 'papers download finished');
  return at < seen.arrivedBeforePapersDone;
}

async function snapshotsLeft(world: QnbWorld): Promise<string[]> {
  const out: string[] = [];
  for (const c of ['papers', 'chunks']) {
    const res = await fetch(`${world.server.url}/collections/${c}/snapshots`);
    const body = (await res.json()) as { result: { name: string }[] };
    out.push(...body.result.map((s) => `${c}/${s.name}`));
  }
  return out;
}

async function lastSet(world: QnbWorld) {
  const dir = join(world.backupDir, 'sets');
  const names = (await readdir(dir)).sort();
  return JSON.parse(await readFile(join(dir, names.at(-1) as string), 'utf8')) as {
    status: string;
    artifacts: { name: string; status: string }[];
    errors: { name: string; message: string }[];
  };
}

test('the next snapshot is created while the current one downloads; a failure is recorded as one after another', async (t) => {
  const outcomes: Record<string, unknown>[] = [];
  for (const inFlight of ['2', '1']) {
    const { world, seen } = await overlapWorld(t);
    world.server.inject({
      op: 'create-snapshot',
      collection: 'chunks',
      fault: { kind: 'status', status: 500, message: 'boom' },
      times: Number.POSITIVE_INFINITY,
    });
    const run = await world.qnb(['backup-qdrant', '--collection', 'papers', '--collection', 'chunks'], {
      QDRANT_SNAPSHOTS_IN_FLIGHT: inFlight,
    });
    assert.equal(
      createdDuringDownload(world, seen),
      inFlight === '2',
      `QDRANT_SNAPSHOTS_IN_FLIGHT=${inFlight}: chunks' snapshot creation overlaps papers' download only with 2`,
    );
    world.server.clearFaults();
    const set = await lastSet(world);
    outcomes.push({
      code: run.code,
      status: set.status,
      artifacts: set.artifacts.map((a) => `${a.name}:${a.status}`),
      errors: set.errors.map((e) => `${e.name}: ${e.message.replace(world.server.url, 'URL')}`),
      valid: (await world.listed()).filter((b) => b.valid).map((b) => b.name),
      left: await snapshotsLeft(world),
    });
  }
  const [overlapped, sequential] = outcomes;
  assert.deepEqual(overlapped, sequential, 'same outcome with and without the overlap');
  assert.notEqual(overlapped?.code, 0);
  assert.deepEqual(overlapped?.valid, ['papers']);
  assert.match(String((overlapped?.errors as string[] | undefined)?.[0]), /^chunks: .*HTTP 500: boom/);
  assert.deepEqual(overlapped?.left, [], 'no snapshot left on the server');
});

test('an interrupt during a download deletes the snapshot already created for the next collection', async (t) => {
  const { world } = await overlapWorld(t);
  const proc = world.start(['backup-qdrant', '--collection', 'papers', '--collection', 'chunks']);
  const deadline = Date.now() + 30_000;
  // wait until chunks' snapshot exists on the server (created while papers downloads)
  while (!world.server.requests.some((r) => isCreate('chunks')(r) && r.status === 200)) {
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`chunks' snapshot was never created ahead:\n${proc.output().stderr}`);
    }
    await sleep(20);
  }
  assert.ok(
    !world.server.requests.some((r) => isDownload('papers')(r) && r.status !== 0 && r.status !== 200) &&
      !world.server.requests.some(isDownload('chunks')),
    'interrupted before chunks downloads',
  );
  proc.child.kill('SIGINT');
  const run = await proc.done;
  assert.equal(run.code, 130, run.stderr);
  world.server.clearFaults();
  assert.deepEqual(await snapshotsLeft(world), [], 'every snapshot created on the server is deleted');
  assert.equal((await world.listed()).filter((b) => b.valid).length, 0);
  assert.equal((await lastSet(world)).status, 'interrupted');
});

test('an interrupt while the next snapshot is still being created deletes it once Qdrant finishes it', async (t) => {
  const { world } = await overlapWorld(t);
  // chunks' snapshot takes 1.5 s on the server, which finishes it although qnb hung up
  world.server.inject({
    op: 'create-snapshot',
    collection: 'chunks',
    fault: { kind: 'slow', delayMs: 1500 },
  });
  const proc = world.start(['backup-qdrant', '--collection', 'papers', '--collection', 'chunks']);
  const deadline = Date.now() + 30_000;
  while (!world.server.requests.some(isCreate('chunks'))) {
    if (Date.now() > deadline) {
      proc.child.kill('SIGKILL');
      throw new Error(`chunks' snapshot was never requested:\n${proc.output().stderr}`);
    }
    await sleep(20);
  }
  const asked = Date.now();
  assert.equal(world.server.requests.find(isCreate('chunks'))?.status, 0, 'interrupted during the creation');
  proc.child.kill('SIGINT');
  const run = await proc.done;
  assert.equal(run.code, 130, run.stderr);
  world.server.clearFaults();
  // by now the server has finished the snapshot qnb asked for
  await sleep(Math.max(0, asked + 2500 - Date.now()));
  assert.deepEqual(
    await snapshotsLeft(world),
    [],
    'the snapshot Qdrant finished after the interrupt is deleted',
  );
  assert.equal((await lastSet(world)).status, 'interrupted');
});
