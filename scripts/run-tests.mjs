#!/usr/bin/env node
// Runs the test suites with node's test runner (through tsx). Usage:
//   node scripts/run-tests.mjs [--serial] [unit|integration|e2e|servers ...]   (default: all)
// Node 20's --test takes no globs, so the files are listed here.
//
// The files run in two lanes at once (each lane one file at a time): the files that stop and
// start a Neo4j server (a JVM each, minutes per file) in one lane, everything else in the other.
// Every test already isolates itself (its own temp folders, free ports, container names), so the
// lanes share nothing but the machine; on 2 cores this halves the wall time of `npm test`.
// `--serial` (or QNB_TEST_SERIAL=1) runs every file in one lane, as before.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const argv = process.argv.slice(2);
const serial = argv.includes('--serial') || process.env.QNB_TEST_SERIAL === '1';
const suites = argv.filter((a) => !a.startsWith('--'));
const roots = (suites.length ? suites : ['unit', 'servers', 'integration', 'e2e']).map((s) =>
  join('test', s),
);
const files = [];
const walk = (dir) => {
  let names = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return;
  }
  for (const n of names) {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) walk(p);
    else if (n.endsWith('.test.ts')) files.push(p);
  }
};
roots.forEach(walk);
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}

/** The longest Neo4j files (a lane each way takes about as long). */
const HEAVY = /(neo4j-(local|docker|dump-writes)|torture)/;
const lanes = serial
  ? [{ name: 'all', files }]
  : [
      { name: 'neo4j', files: files.filter((f) => HEAVY.test(f)) },
      { name: 'other', files: files.filter((f) => !HEAVY.test(f)) },
    ].filter((l) => l.files.length > 0);

function runLane(lane) {
  const started = Date.now();
  const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...lane.files];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const prefix = lanes.length > 1 ? `[${lane.name}] ` : '';
  const pipe = (from, to) => {
    let rest = '';
    from.on('data', (d) => {
      const lines = (rest + d).split('\n');
      rest = lines.pop();
      for (const l of lines) to.write(`${prefix}${l}\n`);
    });
    from.on('end', () => rest && to.write(`${prefix}${rest}\n`));
  };
  pipe(child.stdout, process.stdout);
  pipe(child.stderr, process.stderr);
  return new Promise((resolve) =>
    child.on('close', (code, signal) =>
      resolve({ lane: lane.name, code: code ?? 1, signal, seconds: Math.round((Date.now() - started) / 1000) }),
    ),
  );
}

const results = await Promise.all(lanes.map(runLane));
for (const r of results)
  console.log(`lane ${r.lane}: ${r.code === 0 ? 'passed' : `FAILED (exit ${r.code}${r.signal ? `, ${r.signal}` : ''})`} in ${r.seconds} s`);
process.exit(results.every((r) => r.code === 0) ? 0 : 1);
