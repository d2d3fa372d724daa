/**
 * Retention planner: golden files (test/fixtures/retention/*.json, one case each, with a hand-written
 * `why`) plus property checks over seeded random inputs.
 *
 * `UPDATE_GOLDEN=1 node --import tsx --test test/unit/retention.test.ts` rewrites every case's `expect`
 * block from the planner's output, so a change of behaviour shows up as a reviewable diff of the
 * fixtures. Hand-check the diff: the golden files are the specification, not a snapshot.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, InternalError } from '../../src/core/errors.js';
import {
  describePolicy,
  planRetention,
  type RetentionEntry,
  type RetentionPlan,
  type RetentionPolicy,
  retentionGroup,
} from '../../src/core/retention.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/retention/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

interface GoldenEntry {
  id: string;
  group: string;
  createdAt: string;
  valid?: boolean;
  protected?: string;
}

interface GoldenCase {
  name: string;
  /** Hand-written explanation of the expected outcome. */
  why: string;
  now: string;
  timeZone: string;
  policy: RetentionPolicy;
  entries: GoldenEntry[];
  expect: { keep: string[]; remove: string[]; reasons?: Record<string, string[]> };
}

function loadCases(): { file: string; data: GoldenCase }[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const data = JSON.parse(readFileSync(join(FIXTURES, f), 'utf8')) as GoldenCase;
      for (const key of ['name', 'why', 'now', 'timeZone'] as const)
        assert.ok(typeof data[key] === 'string' && data[key].length > 0, `${f}: "${key}" must be a string`);
      assert.ok(Array.isArray(data.entries), `${f}: "entries" must be an array`);
      assert.ok(data.policy && typeof data.policy === 'object', `${f}: "policy" must be an object`);
      assert.ok(data.expect && Array.isArray(data.expect.keep) && Array.isArray(data.expect.remove), f);
      return { file: f, data };
    });
}

function toEntries(c: GoldenCase): RetentionEntry[] {
  return c.entries.map((e) => {
    const entry: RetentionEntry = {
      id: e.id,
      group: e.group,
      createdAt: new Date(e.createdAt),
      valid: e.valid ?? true,
    };
    if (e.protected !== undefined) entry.protected = e.protected;
    return entry;
  });
}

function runCase(c: GoldenCase): RetentionPlan {
  return planRetention(toEntries(c), c.policy, new Date(c.now), { timeZone: c.timeZone });
}

/**
 * JSON in the layout Biome's formatter keeps (line width 110): a value goes on one line when it fits,
 * otherwise objects and arrays are broken one member per line.
 */
function formatJson(value: unknown, indent = 0, prefix = 0): string {
  const flat = flatJson(value);
  if (typeof value !== 'object' || value === null || indent + prefix + flat.length + 1 <= 110) return flat;
  const pad = ' '.repeat(indent + 2);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[\n${value.map((v) => pad + formatJson(v, indent + 2)).join(',\n')}\n${' '.repeat(indent)}]`;
  }
  const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (members.length === 0) return '{}';
  const lines = members.map(([k, v]) => {
    const key = `${JSON.stringify(k)}: `;
    return pad + key + formatJson(v, indent + 2, key.length);
  });
  return `{\n${lines.join(',\n')}\n${' '.repeat(indent)}}`;
}

function flatJson(value: unknown): string {
  if (typeof value !== 'object' || value === null) return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(flatJson).join(', ')}]`;
  const members = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (members.length === 0) return '{}';
  return `{ ${members.map(([k, v]) => `${JSON.stringify(k)}: ${flatJson(v)}`).join(', ')} }`;
}

describe('retention golden files', () => {
  const cases = loadCases();

  test('there are enough golden cases, each with a hand-written why', () => {
    assert.ok(cases.length >= 14, `only ${cases.length} golden cases`);
    const names = new Set(cases.map((c) => c.data.name));
    assert.equal(names.size, cases.length, 'case names must be unique');
  });

  for (const { file, data } of cases) {
    test(`${file}: ${data.name}`, () => {
      const plan = runCase(data);
      if (UPDATE) {
        const reasons: Record<string, string[]> = {};
        for (const d of plan.decisions) if (d.action === 'keep') reasons[d.id] = d.reasons;
        const updated: GoldenCase = { ...data, expect: { keep: plan.keep, remove: plan.remove, reasons } };
        writeFileSync(join(FIXTURES, file), `${formatJson(updated)}\n`);
        return;
      }
      assert.deepEqual(plan.keep, data.expect.keep, 'keep');
      assert.deepEqual(plan.remove, data.expect.remove, 'remove');
      const byId = new Map(plan.decisions.map((d) => [d.id, d]));
      for (const [id, reasons] of Object.entries(data.expect.reasons ?? {})) {
        const d = byId.get(id);
        assert.ok(d, `expect.reasons names unknown id ${id}`);
        assert.deepEqual(d.reasons, reasons, `reasons of ${id}`);
      }
      // The plan covers every entry exactly once, in the documented order.
      assert.equal(plan.decisions.length, data.entries.length);
    });
  }
});

describe('retention helpers', () => {
  test('retentionGroup is target:kind:name', () => {
    assert.equal(
      retentionGroup({ target: 'qdrant', kind: 'qdrant-collection', name: 'docs' }),
      'qdrant:qdrant-collection:docs',
    );
    assert.equal(
      retentionGroup({ target: 'neo4j', kind: 'neo4j-dump', name: 'neo4j' }),
      'neo4j:neo4j-dump:neo4j',
    );
  });

  test('describePolicy names the rules that are on', () => {
    assert.equal(
      describePolicy({ keepLast: 5, keepDaily: 4, keepWeekly: 3, keepMonthly: 2 }),
      'keep last 5, 4 daily, 3 weekly, 2 monthly',
    );
    assert.equal(describePolicy({ keepLast: 5 }), 'keep last 5');
    assert.equal(describePolicy({ keepDaily: 7, keepMonthly: 12 }), 'keep 7 daily, 12 monthly');
    assert.equal(describePolicy({}), 'no policy (keep everything)');
    assert.equal(describePolicy({ keepLast: 0, keepMonthly: 0 }), 'no policy (keep everything)');
  });
});

const at = (iso: string) => new Date(iso);
const entry = (id: string, createdAt: string, extra: Partial<RetentionEntry> = {}): RetentionEntry => ({
  id,
  group: 'qdrant:qdrant-collection:docs',
  createdAt: at(createdAt),
  valid: true,
  ...extra,
});

describe('planRetention edge cases', () => {
  const now = at('2026-11-25T12:00:00Z');

  test('no entries: empty plan', () => {
    assert.deepEqual(planRetention([], { keepLast: 1 }, now, { timeZone: 'UTC' }), {
      decisions: [],
      keep: [],
      remove: [],
    });
  });

  test('counts that are not whole numbers >= 0 are a ConfigError', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => planRetention([], { keepDaily: bad }, now), ConfigError, String(bad));
    }
  });

  test('duplicate ids are a bug (InternalError)', () => {
    const e = entry('a', '2026-11-25T02:00:00Z');
    assert.throws(() => planRetention([e, { ...e }], { keepLast: 1 }, now), InternalError);
  });

  test('an invalid `now` is a bug (InternalError)', () => {
    assert.throws(() => planRetention([], { keepLast: 1 }, new Date(Number.NaN)), InternalError);
  });

  test('an unknown time zone is a RangeError', () => {
    assert.throws(
      () => planRetention([], { keepDaily: 1 }, now, { timeZone: 'Mars/Olympus_Mons' }),
      RangeError,
    );
  });

  test('without a timeZone, periods are computed in the local zone', () => {
    const local = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const entries = Array.from({ length: 48 }, (_, i) =>
      entry(`e${i}`, new Date(Date.parse('2026-11-20T00:00:00Z') + i * 7_200_000).toISOString()),
    );
    const p = { keepDaily: 2, keepWeekly: 1 };
    assert.deepEqual(planRetention(entries, p, now), planRetention(entries, p, now, { timeZone: local }));
  });

  test('an entry whose date is not valid is kept and not counted', () => {
    const plan = planRetention(
      [entry('nodate', 'garbage'), entry('a', '2026-11-25T02:00:00Z'), entry('b', '2026-11-24T02:00:00Z')],
      { keepLast: 1 },
      now,
      { timeZone: 'UTC' },
    );
    assert.deepEqual(plan.keep, ['a', 'nodate']);
    assert.deepEqual(plan.remove, ['b']);
    assert.deepEqual(plan.decisions.find((d) => d.id === 'nodate')?.reasons, [
      'unknown date — not touched by retention',
    ]);
  });

  test('an empty protected reason still protects', () => {
    const plan = planRetention(
      [entry('a', '2026-11-25T02:00:00Z'), entry('b', '2026-11-24T02:00:00Z', { protected: '' })],
      { keepLast: 1 },
      now,
      { timeZone: 'UTC' },
    );
    assert.deepEqual(plan.remove, []);
    assert.deepEqual(plan.decisions[1], {
      id: 'b',
      group: 'qdrant:qdrant-collection:docs',
      action: 'keep',
      reasons: ['protected'],
    });
  });

  test('equal timestamps are ordered by id', () => {
    const plan = planRetention(
      [entry('b', '2026-11-25T02:00:00Z'), entry('a', '2026-11-25T02:00:00Z')],
      { keepLast: 1 },
      now,
      { timeZone: 'UTC' },
    );
    assert.deepEqual(plan.keep, ['a']);
    assert.deepEqual(plan.remove, ['b']);
  });

  test('the input is not modified', () => {
    const entries = [entry('b', '2026-11-24T02:00:00Z'), entry('a', '2026-11-25T02:00:00Z')];
    const before = structuredClone(entries);
    const policy = { keepLast: 1 };
    planRetention(Object.freeze(entries.map((e) => Object.freeze(e))), Object.freeze(policy), now);
    assert.deepEqual(entries, before);
  });
});

// ---- Property checks over seeded random inputs ----

/** mulberry32: small, seeded, good enough to generate test inputs. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Pacific/Auckland', 'Europe/Berlin'];
const GROUPS = ['qdrant:qdrant-collection:docs', 'qdrant:qdrant-collection:notes', 'neo4j:neo4j-dump:neo4j'];

interface RandomCase {
  entries: RetentionEntry[];
  policy: RetentionPolicy;
  now: Date;
  timeZone: string;
}

function randomCase(next: () => number): RandomCase {
  const int = (n: number) => Math.floor(next() * n);
  const now = new Date(Date.parse('2026-03-01T00:00:00Z') + int(365) * 86_400_000 + int(86_400) * 1000);
  const entries: RetentionEntry[] = [];
  const groups = GROUPS.slice(0, 1 + int(GROUPS.length));
  for (const group of groups) {
    const n = int(25);
    for (let i = 0; i < n; i++) {
      // Mostly within ~120 days before now, to the minute so several land on one day; some in the future.
      const future = next() < 0.05;
      const offsetMin = future ? -(1 + int(3 * 1440)) : int(120 * 1440);
      const e: RetentionEntry = {
        id: `${group}#${i}`,
        group,
        createdAt: new Date(Math.floor(now.getTime() / 60_000) * 60_000 - offsetMin * 60_000),
        valid: next() < 0.8,
      };
      if (next() < 0.1) e.protected = 'pre-command backup (qnb run)';
      entries.push(e);
    }
  }
  const count = () => (next() < 0.3 ? undefined : int(6));
  const policy: RetentionPolicy = {
    keepLast: count(),
    keepDaily: count(),
    keepWeekly: count(),
    keepMonthly: count(),
  };
  return { entries, policy, now, timeZone: ZONES[int(ZONES.length)]! };
}

function shuffled<T>(list: readonly T[], next: () => number): T[] {
  const out = [...list];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const RUNS = 200;

describe('retention properties (200 seeded random inputs)', () => {
  const next = rng(0x5eed_2026);
  const cases = Array.from({ length: RUNS }, () => randomCase(next));
  const plans = cases.map((c) => planRetention(c.entries, c.policy, c.now, { timeZone: c.timeZone }));

  test('the generator covers the interesting shapes', () => {
    const all = cases.flatMap((c) => c.entries);
    assert.ok(all.some((e) => !e.valid));
    assert.ok(all.some((e) => e.protected));
    assert.ok(cases.some((c) => c.entries.some((e) => e.createdAt > c.now)));
    assert.ok(plans.some((p) => p.remove.length > 0));
  });

  test('every group keeps its newest valid entry (and its newest valid entry not in the future)', () => {
    cases.forEach((c, i) => {
      const keep = new Set(plans[i]!.keep);
      for (const group of new Set(c.entries.map((e) => e.group))) {
        const valid = c.entries.filter((e) => e.group === group && e.valid);
        const newest = (list: RetentionEntry[]) =>
          list.reduce<RetentionEntry | undefined>(
            (a, e) => (!a || e.createdAt > a.createdAt ? e : a),
            undefined,
          );
        const n1 = newest(valid);
        const n2 = newest(valid.filter((e) => e.createdAt <= c.now));
        if (n1) assert.ok(keep.has(n1.id), `case ${i}: ${n1.id} is the newest valid of ${group}`);
        if (n2) assert.ok(keep.has(n2.id), `case ${i}: ${n2.id} is the newest valid past entry of ${group}`);
      }
    });
  });

  test('keep and remove partition the ids; decisions are complete and ordered', () => {
    cases.forEach((c, i) => {
      const plan = plans[i]!;
      const ids = c.entries.map((e) => e.id).sort();
      assert.deepEqual([...plan.keep, ...plan.remove].sort(), ids, `case ${i}`);
      assert.equal(new Set([...plan.keep, ...plan.remove]).size, ids.length, `case ${i}: disjoint`);
      assert.equal(plan.decisions.length, ids.length);
      for (const d of plan.decisions) {
        if (d.action === 'keep') assert.ok(d.reasons.length > 0, `case ${i}: ${d.id} kept without a reason`);
        else assert.deepEqual(d.reasons, []);
      }
      const byId = new Map(c.entries.map((e) => [e.id, e]));
      for (let k = 1; k < plan.decisions.length; k++) {
        const a = byId.get(plan.decisions[k - 1]!.id)!;
        const b = byId.get(plan.decisions[k]!.id)!;
        assert.ok(
          a.group < b.group || (a.group === b.group && a.createdAt >= b.createdAt),
          `case ${i}: order`,
        );
      }
    });
  });

  test('invalid, protected and future entries are never removed', () => {
    cases.forEach((c, i) => {
      const remove = new Set(plans[i]!.remove);
      for (const e of c.entries) {
        if (!e.valid || e.protected !== undefined || e.createdAt > c.now)
          assert.ok(!remove.has(e.id), `case ${i}: ${e.id} must not be removed`);
      }
    });
  });

  test('keepLast N keeps at least min(N, #valid) valid entries per group', () => {
    cases.forEach((c, i) => {
      const n = c.policy.keepLast ?? 0;
      const keep = new Set(plans[i]!.keep);
      for (const group of new Set(c.entries.map((e) => e.group))) {
        const valid = c.entries.filter((e) => e.group === group && e.valid);
        const kept = valid.filter((e) => keep.has(e.id)).length;
        assert.ok(
          kept >= Math.min(n, valid.length),
          `case ${i}: ${group} keeps ${kept} < min(${n}, ${valid.length})`,
        );
      }
    });
  });

  test('an empty policy removes nothing', () => {
    for (const c of cases) {
      const plan = planRetention(c.entries, {}, c.now, { timeZone: c.timeZone });
      assert.deepEqual(plan.remove, []);
    }
  });

  test('the order of the input does not change the plan', () => {
    const shuffle = rng(42);
    cases.forEach((c, i) => {
      const again = planRetention(shuffled(c.entries, shuffle), c.policy, c.now, { timeZone: c.timeZone });
      assert.deepEqual(again, plans[i], `case ${i}`);
    });
  });

  test('raising a count never removes more (for non-empty policies)', () => {
    const keys = ['keepLast', 'keepDaily', 'keepWeekly', 'keepMonthly'] as const;
    cases.forEach((c, i) => {
      const base = keys.some((k) => c.policy[k]) ? c.policy : { ...c.policy, keepLast: 1 };
      const before = new Set(planRetention(c.entries, base, c.now, { timeZone: c.timeZone }).keep);
      const key = keys[i % keys.length]!;
      const more = { ...base, [key]: (base[key] ?? 0) + 1 };
      const after = new Set(planRetention(c.entries, more, c.now, { timeZone: c.timeZone }).keep);
      for (const id of before) assert.ok(after.has(id), `case ${i}: raising ${key} dropped ${id}`);
    });
  });
});
