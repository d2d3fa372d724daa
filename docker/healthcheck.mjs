// The image's HEALTHCHECK (docs/container.md): runs `qnb status --json` and exits 0 (healthy)
// when it says ok, else 1 (unhealthy; Docker reserves 2), printing one line per problem for
// `docker inspect --format '{{json .State.Health}}'`. Status reads only: no lock, no database.
import { spawnSync } from 'node:child_process';

const r = spawnSync(process.execPath, ['/opt/qnb/dist/cli/main.js', 'status', '--json'], {
  encoding: 'utf8',
  timeout: 100_000,
});
let report;
try {
  report = JSON.parse(r.stdout);
} catch {
  const why = (r.stderr || r.stdout || r.error?.message || '').trim().split('\n').slice(-2).join(' | ');
  console.log(`unhealthy: qnb status failed (exit ${r.status ?? r.signal}): ${why}`);
  process.exit(1);
}
const lines = [];
for (const p of report.problems ?? []) lines.push(p.message);
for (const t of report.targets ?? [])
  for (const p of t.problems ?? []) lines.push(`${t.target} (${t.name}): ${p.code}: ${p.message}`);
for (const n of report.neo4jNotices ?? []) if (n.problem) lines.push(n.message);
if (report.offsite && report.offsite.healthy === false) lines.push('off-site copies fall behind');
const healthy = r.status === 0 && report.ok === true;
if (healthy) {
  const n = (report.targets ?? []).length;
  console.log(`healthy: ${n} target(s) backed up within ${Math.round(report.maxAgeMs / 3_600_000)}h`);
  process.exit(0);
}
console.log(`unhealthy: ${lines.join('; ') || `qnb status exit ${r.status}`}`);
process.exit(1);
