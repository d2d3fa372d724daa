/**
 * The watch gate (debounce + cooldown) on a mocked clock, and the folder watcher on a real
 * folder (writes, replace by rename, other files ignored).
 */
import assert from 'node:assert/strict';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type AttemptOutcome, createChangeGate, watchFile } from '../../src/schedule/watch.js';
import { tempDir } from '../helpers/tmp.js';

/** A gate on mocked timers; `advance` moves the clock and lets promises settle. */
function harness(
  t: { mock: { timers: { enable(o: { apis: 'setTimeout'[] }): void; tick(ms: number): void } } },
  opts: { debounceMs: number; cooldownMs: number; runMs?: number; outcomes?: AttemptOutcome[] },
) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 0;
  const starts: number[] = [];
  const log: string[] = [];
  let finishRun: (() => void) | undefined;
  const outcomes = [...(opts.outcomes ?? [])];
  const gate = createChangeGate({
    debounceMs: opts.debounceMs,
    cooldownMs: opts.cooldownMs,
    now: () => clock,
    log: (l) => log.push(l),
    run: () => {
      starts.push(clock);
      const outcome = outcomes.shift() ?? 'done';
      if (!opts.runMs) return Promise.resolve(outcome);
      return new Promise((resolve) => {
        finishRun = () => resolve(outcome);
      });
    },
  });
  const flush = async () => {
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  };
  return {
    gate,
    starts,
    log,
    async advance(ms: number, step = 10) {
      for (let left = ms; left > 0; left -= step) {
        const d = Math.min(step, left);
        clock += d;
        t.mock.timers.tick(d);
        await flush();
      }
    },
    async endRun() {
      finishRun?.();
      finishRun = undefined;
      await flush();
    },
  };
}

test('a burst of changes within the debounce gives exactly one backup, after the quiet time', async (t) => {
  const h = harness(t, { debounceMs: 300, cooldownMs: 2000 });
  for (let i = 0; i < 20; i++) {
    h.gate.poke();
    await h.advance(10);
  }
  assert.deepEqual(h.starts, []);
  await h.advance(280);
  assert.deepEqual(h.starts, [], 'the last change was at 190: quiet until 490');
  await h.advance(20);
  assert.deepEqual(h.starts, [490]);
  await h.advance(5000);
  assert.equal(h.starts.length, 1);
  assert.equal(h.log.filter((l) => l.startsWith('change seen')).length, 1);
});

test('a change during the cooldown gives exactly one more backup, at the end of the cooldown', async (t) => {
  const h = harness(t, { debounceMs: 300, cooldownMs: 2000 });
  h.gate.poke();
  await h.advance(300);
  assert.deepEqual(h.starts, [300]);
  await h.advance(200);
  for (let i = 0; i < 3; i++) {
    h.gate.poke();
    await h.advance(400); // changes keep coming during the cooldown (500…1700)
  }
  assert.deepEqual(h.starts, [300]);
  await h.advance(580);
  assert.deepEqual(h.starts, [300], 'the cooldown runs until 2300');
  await h.advance(30);
  assert.deepEqual(h.starts, [300, 2300]);
  await h.advance(10_000);
  assert.deepEqual(h.starts, [300, 2300], 'never more than one per change window');
  assert.ok(h.log.some((l) => /backup at .* after the cooldown/.test(l)));
});

test('a change while a backup runs is kept for one backup after it (never lost)', async (t) => {
  const h = harness(t, { debounceMs: 100, cooldownMs: 1000, runMs: 1 });
  h.gate.poke();
  await h.advance(100);
  assert.equal(h.starts.length, 1);
  assert.equal(h.gate.busy, true);
  h.gate.poke();
  await h.advance(200);
  h.gate.poke();
  await h.advance(3000); // the first backup is still running: nothing new starts
  assert.equal(h.starts.length, 1);
  await h.endRun();
  assert.deepEqual(h.starts, [100, 3300], 'starts at once: the cooldown is long over');
  await h.endRun();
  await h.advance(5000);
  assert.equal(h.starts.length, 2);
});

test('locked (retry): tried again after the retry delay without a cooldown; close() drops timers', async (t) => {
  const h = harness(t, { debounceMs: 100, cooldownMs: 60_000, outcomes: ['retry', 'done'] });
  h.gate.poke();
  await h.advance(100);
  assert.deepEqual(h.starts, [100]);
  await h.advance(5000);
  assert.deepEqual(h.starts, [100, 5100]);
  h.gate.poke();
  await h.advance(200);
  await h.gate.close();
  await h.advance(120_000, 1000);
  assert.deepEqual(h.starts, [100, 5100]);
});

test('watchFile: writes and a replace-by-rename are seen; other files in the folder are not', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'zotero.sqlite');
  await writeFile(file, 'v1');
  const events: string[] = [];
  const w = await watchFile(file, { onChange: (e) => events.push(e), onRemove: () => events.push('unlink') });
  t.after(() => w.close());
  const waitFor = async (pred: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!pred()) {
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; events: ${events.join(',')}`);
      await sleep(25);
    }
  };
  await writeFile(join(dir, 'zotero.sqlite-journal'), 'j');
  await writeFile(join(dir, 'other.txt'), 'x');
  await writeFile(file, 'v2');
  await waitFor(() => events.includes('change'), 'a change');
  await sleep(200); // chokidar merges changes of one file within 50 ms (watch's debounce is longer)
  events.length = 0;
  await writeFile(join(dir, 'new.tmp'), 'v3');
  await rename(join(dir, 'new.tmp'), file);
  await waitFor(() => events.some((e) => e === 'change' || e === 'add'), 'the replaced file');
  await sleep(300);
  assert.ok(
    events.every((e) => e === 'change' || e === 'add' || e === 'unlink'),
    events.join(','),
  );
  events.length = 0;
  await unlink(file);
  await waitFor(() => events.includes('unlink'), 'the removal');
  await writeFile(file, 'v4');
  await waitFor(() => events.includes('add'), 'the file coming back');
});
