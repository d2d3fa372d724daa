/**
 * Text output in the seed's layouts (`=== Backup Results ===`, `=== Available Backups ===`).
 */
import { basename } from 'node:path';
import { copyFailure } from '../../core/backup-copy.js';
import { consistencyText, describeLink } from '../../core/consistency.js';
import type { BackupResult } from '../../core/manager.js';
import type { ArtifactRecord } from '../../core/manifest.js';
import type { PruneResult } from '../../core/prune.js';
import type { RepoArtifact, RepoScan } from '../../core/repository.js';
import type { RestoreSetResult } from '../../core/restore-set.js';
import { type StatusReport, targetLabel } from '../../core/status.js';
import { displayTime, formatDuration } from '../../core/time.js';
import type { VerifyResult } from '../../core/verify.js';
import type { Neo4jRestoreReport } from '../../targets/neo4j/neo4j-restore.js';
import type { QdrantRestoreReport } from '../../targets/qdrant/qdrant-restore.js';
import { graphCountText, mb, shownPath, thousands } from './format.js';
import { renderCopy } from './offsite.js';

function pointsText(a: ArtifactRecord): string | undefined {
  const c = a.counts;
  if (typeof c.points === 'number') return thousands(c.points);
  if (typeof c.pointsMin === 'number' && typeof c.pointsMax === 'number')
    return `${thousands(c.pointsMin)}–${thousands(c.pointsMax)} (changed during backup)`;
  if (typeof c.pointsMin === 'number')
    return `at least ${thousands(c.pointsMin)} (more were deferred by prevent_unoptimized)`;
  return undefined;
}

/** Shards of a cluster backup (distributed Qdrant), else undefined. */
const shardCount = (a: ArtifactRecord) =>
  (a.details?.cluster as { shards?: unknown[] } | undefined)?.shards?.length;

/** Lines of one successful artifact, seed style. */
function artifactLines(a: ArtifactRecord, abs: string, cwd: string): string[] {
  const lines: string[] = [];
  if (a.target === 'qdrant') {
    lines.push(`✅ Qdrant (${a.kind === 'qdrant-full' ? 'full storage' : a.name})`);
    const shards = shardCount(a);
    if (shards !== undefined)
      lines.push(`   Shards: ${shards} shard snapshots (Qdrant cluster), all present`);
    else lines.push(`   Snapshot: ${String(a.details?.snapshotName ?? '')}`);
    lines.push(`   Local: ${shownPath(abs, cwd)}`);
    lines.push(`   Size: ${mb(a.bytes)}`);
    const pts = pointsText(a);
    if (pts) lines.push(`   Points: ${pts}`);
    lines.push(
      `   Checksum: ${a.checksumSource === 'server' ? 'sha256 matches the server' : 'sha256 by qnb (server reported none)'}`,
    );
  } else {
    const online = a.kind === 'neo4j-export';
    lines.push(`✅ Neo4j (${a.name})`);
    lines.push(`   ${online ? 'Export' : 'Dump'}: ${basename(a.file)}`);
    lines.push(`   Size: ${mb(a.bytes)}`);
    const nodes = graphCountText(a, 'nodes');
    if (nodes) lines.push(`   Nodes: ${nodes}`);
    const rels = graphCountText(a, 'relationships');
    if (rels) lines.push(`   Relationships: ${rels}`);
    const downtime = a.details?.downtimeMs;
    if (typeof downtime === 'number')
      lines.push(`   Downtime: ${formatDuration(downtime)} (Neo4j stopped for the dump)`);
    if (online) lines.push('   Downtime: none (online export over Bolt)');
  }
  return lines;
}

/** `=== Backup Results ===` for a finished set. */
export function renderBackup(r: BackupResult, resolve: (rel: string) => string, cwd: string): string[] {
  const lines = ['=== Backup Results ===', ''];
  for (const a of r.artifacts.filter((x) => x.status === 'ok'))
    lines.push(...artifactLines(a, resolve(a.file), cwd), '');
  for (const e of r.errors) {
    lines.push(`❌ ${e.target === 'qdrant' ? 'Qdrant' : 'Neo4j'} (${e.name})`, `   Error: ${e.message}`, '');
  }
  if (r.artifacts.length === 0 && r.errors.length === 0) lines.push('(nothing to back up)', '');
  for (const l of r.links ?? []) {
    lines.push(`🔗 Link ${l.name}: ${describeLink(l)}`);
    for (const [side, o] of [
      ['points without a node', l.pointsWithoutNode],
      ['nodes without a point', l.nodesWithoutPoint],
    ] as const)
      if (o?.count)
        lines.push(`   ${side}: ${o.examples.join(', ')}${o.count > o.examples.length ? ', …' : ''}`);
  }
  for (const h of r.hooks ?? [])
    lines.push(
      h.ok
        ? `✅ hooks.${h.hook} (${formatDuration(h.durationMs)})`
        : `❌ hooks.${h.hook} FAILED: ${h.detail}`,
    );
  if (r.links?.length || r.hooks?.length) lines.push('');
  lines.push(`Set: ${r.setId} — ${r.status} in ${formatDuration(r.durationMs)}`);
  if (r.copy && 'skipped' in r.copy) lines.push(`Copy skipped: ${r.copy.skipped}`);
  else if (r.copy?.error)
    lines.push(
      '',
      `❌ Copy to ${r.copy.target} failed: ${r.copy.error.message}${r.copy.error.hint ? ` — ${r.copy.error.hint}` : ''}`,
      '',
    );
  else if (r.copy) lines.push('', ...renderCopy(r.copy), '');
  if (r.retention && 'skipped' in r.retention) lines.push(`Retention skipped: ${r.retention.skipped}`);
  else if (r.retention)
    lines.push(
      `Retention: removed ${r.retention.removed.length} old backup(s), ${mb(r.retention.freedBytes)}`,
    );
  return lines;
}

function statusText(e: RepoArtifact): string {
  if (!e.valid) return `✘ NOT VALID: ${e.problem}`;
  const v = e.artifact.verification;
  if (v?.ok) return `✔ verified${v.deep ? ' by restore drill' : ''} ${displayTime(new Date(v.at))}`;
  return e.artifact.checksumSource === 'server'
    ? '✔ sha256 matches server'
    : '✔ sha256 recorded (server gave none)';
}

function entryLines(e: RepoArtifact): string[] {
  const a = e.artifact;
  const bits = [mb(a.bytes), displayTime(e.createdAt)];
  const pts = pointsText(a);
  if (pts) bits.push(`${pts} points`);
  if (shardCount(a) !== undefined) bits.push(`${shardCount(a)} shards (cluster)`);
  const nodes = graphCountText(a, 'nodes');
  if (nodes) bits.push(`${nodes} nodes, ${graphCountText(a, 'relationships') ?? 0} relationships`);
  if (e.set.reason === 'pre-restore') bits.push('safety backup');
  const consistency = consistencyText(e.set.links);
  if (consistency) bits.push(consistency);
  if (a.stored?.encryption) bits.push(`encrypted (${a.stored.encryption})`);
  return [`  • ${basename(a.file)}`, `    ${bits.join(' - ')} - ${statusText(e)}`];
}

/** `ok — set ID in 1.2 s`, and where the copy went: the end of a schedule / watch log line. */
export function runSummary(r: BackupResult): string {
  const base = `${r.status} — set ${r.setId} in ${formatDuration(r.durationMs)}`;
  if (!r.copy || 'skipped' in r.copy) return base;
  const failed = copyFailure(r.copy);
  return failed
    ? `${base}; copy to ${r.copy.target} FAILED — ${failed.message}`
    : `${base}; copied to ${r.copy.target} (${r.copy.sentFiles} file(s) sent)`;
}

/** `=== Available Backups ===`, newest first, grouped by target. */
export function renderList(scan: RepoScan): string[] {
  const lines = ['=== Available Backups ===', ''];
  const groups: [string, RepoArtifact[]][] = [
    ['Qdrant Snapshots:', scan.artifacts.filter((a) => a.artifact.target === 'qdrant')],
    ['Neo4j Dumps:', scan.artifacts.filter((a) => a.artifact.target === 'neo4j')],
  ];
  for (const [title, entries] of groups) {
    lines.push(title);
    if (entries.length === 0) lines.push('  (none)');
    for (const e of entries) lines.push(...entryLines(e));
    lines.push('');
  }
  if (scan.unknownFiles.length) {
    lines.push('Not backups (no manifest entry; never restored without --force):');
    for (const f of scan.unknownFiles) lines.push(`  • ${f}`);
    lines.push('');
  }
  for (const b of scan.badManifests) lines.push(`⚠ ${b.file}: ${b.problem}`);
  while (lines.at(-1) === '') lines.pop();
  return lines;
}

/** Restore report. */
export function renderRestore(r: {
  report: QdrantRestoreReport;
  safetySetId?: string;
  artifact: ArtifactRecord;
}): string[] {
  const rep = r.report;
  if (rep.plan)
    return [
      '=== Restore plan (dry run, nothing changed) ===',
      '',
      `From: ${rep.from}`,
      ...rep.plan.map((l) => `  • ${l}`),
    ];
  const lines = ['=== Restore Results ===', '', `✅ Qdrant (${rep.collection})`, `   From: ${rep.from}`];
  const counted =
    rep.countMethod === 'scroll' ? ', counted by scrolling: strict mode forbids exact counts' : '';
  lines.push(`   Points: ${thousands(rep.points)} (manifest: ${rep.expectedPoints}${counted}) ✔`);
  if (rep.settings === 'as backed up') lines.push('   Settings: as backed up ✔');
  else if (rep.settings === 'kept the existing collection')
    lines.push('   Settings: kept the existing (custom-sharded) collection’s own ⚠');
  if (rep.payloadIndexes?.length) lines.push(`   Payload indexes: ${rep.payloadIndexes.join(', ')} ✔`);
  if (rep.sampleChecked) lines.push(`   Sampled points: ${rep.sampleChecked} identical ✔`);
  if (rep.probes?.recall !== undefined)
    lines.push(
      `   Probes: ${rep.probes.checked} exact top-${rep.probes.top ?? 10} identical ✔, HNSW recall@${rep.probes.top ?? 10} ${rep.probes.recall}`,
    );
  else if (rep.probes?.note) lines.push(`   Probes: ${rep.probes.note}`);
  if (rep.aliases.applied.length) lines.push(`   Aliases: ${rep.aliases.applied.join(', ')}`);
  if (rep.aliases.skipped.length)
    lines.push(`   Aliases not moved (restored under a new name): ${rep.aliases.skipped.join(', ')}`);
  if (r.safetySetId) lines.push(`   Safety backup of the overwritten collection: set ${r.safetySetId}`);
  lines.push(`   Time: ${formatDuration(rep.durationMs)}`);
  return lines;
}

/** Prune report. */
export function renderPrune(r: PruneResult, policy: string): string[] {
  const lines = [`=== Retention (${policy})${r.dryRun ? ' — dry run, nothing deleted' : ''} ===`, ''];
  for (const d of r.decisions) {
    const name = basename(d.id);
    lines.push(
      d.action === 'keep'
        ? `  keep    ${name}  (${d.reasons.join(', ')})`
        : `  ${r.dryRun ? 'would remove' : 'removed'} ${name}  (${mb(d.bytes)})`,
    );
  }
  if (r.decisions.length === 0) lines.push('  (no backups)');
  const count = r.dryRun ? r.decisions.filter((d) => d.action === 'remove').length : r.removed.length;
  const bytes = r.dryRun
    ? r.decisions.filter((d) => d.action === 'remove').reduce((s, d) => s + d.bytes, 0)
    : r.freedBytes;
  lines.push('', `${r.dryRun ? 'Would remove' : 'Removed'} ${count} backup(s), ${mb(bytes)}.`);
  if (r.unknownFiles.length) lines.push(`Not touched (not written by qnb): ${r.unknownFiles.join(', ')}`);
  return lines;
}

/** Neo4j restore report. */
export function renderNeo4jRestore(r: { report: Neo4jRestoreReport; safetySetId?: string }): string[] {
  const rep = r.report;
  const exp = (n: number | string | undefined) =>
    n === undefined ? 'not recorded' : typeof n === 'string' ? `${n}, changed around the dump` : thousands(n);
  return [
    '=== Restore Results ===',
    '',
    `✅ Neo4j (${rep.database})`,
    `   From: ${rep.from}`,
    `   Nodes: ${thousands(rep.nodes)} (manifest: ${exp(rep.expected.nodes)}) ✔`,
    `   Relationships: ${thousands(rep.relationships)} (manifest: ${exp(rep.expected.relationships)}) ✔`,
    ...(rep.sampleChecked ? [`   Sampled records: ${rep.sampleChecked} identical ✔`] : []),
    ...(rep.note ? [`   Note: ${rep.note}`] : []),
    ...(rep.schema !== undefined ? [`   Indexes and constraints: ${rep.schema} replayed`] : []),
    ...(r.safetySetId
      ? [
          `   Safety ${rep.mode === 'export' ? 'export' : 'dump'} of the overwritten database: set ${r.safetySetId}`,
        ]
      : []),
    rep.mode === 'export' ? '   Downtime: none (imported over Bolt)' : `   Downtime: ${neo4jDowntime(rep)}`,
  ];
}

/** "12.1 s", with what the outage held when it held more than the load. */
function neo4jDowntime(rep: Neo4jRestoreReport): string {
  const what = rep.outages?.[0]?.what;
  return what && what !== 'load'
    ? `${formatDuration(rep.downtimeMs)} (${what}, one stop)`
    : formatDuration(rep.downtimeMs);
}

/** Verify report. */
export function renderVerify(r: VerifyResult): string[] {
  const lines = ['=== Verify Results ===', ''];
  for (const i of r.items) {
    const how = i.deep ? ' (sha256 + restore drill)' : i.note ? ` (sha256; ${i.note})` : '';
    lines.push(i.ok ? `✅ ${i.file}${how}` : `❌ ${i.file}: ${i.detail}`);
  }
  if (r.items.length === 0) lines.push('(no backups to verify)');
  lines.push(
    '',
    r.ok
      ? `All ${r.items.length} file(s) match their manifests.`
      : `${r.items.filter((i) => !i.ok).length} of ${r.items.length} file(s) FAILED verification.`,
  );
  return lines;
}

/** `=== Backup Status ===`: one block per target, then one line per problem naming its target. */
export function renderStatus(r: StatusReport): string[] {
  const lines = ['=== Backup Status ===', ''];
  for (const t of r.targets) {
    lines.push(`${t.healthy ? '✅' : '❌'} ${targetLabel(t)}`);
    const g = t.lastGood;
    if (g) {
      lines.push(
        `   Last good backup: ${displayTime(new Date(g.createdAt))} (${formatDuration(g.ageMs)} ago)`,
        `   File: ${basename(g.file)}`,
      );
      const trend = t.trend.bytes.length > 1 ? ` — trend ${t.trend.bytes.map((b) => mb(b)).join(' → ')}` : '';
      const pct =
        t.trend.changePct === undefined
          ? ''
          : ` (${t.trend.changePct >= 0 ? '+' : ''}${t.trend.changePct}% vs median of previous ${t.trend.bytes.length - 1})`;
      lines.push(`   Size: ${mb(g.bytes)}${trend}${pct}`);
      const c = g.counts;
      const points = c.points ?? c.pointsMax;
      if (typeof points === 'number') lines.push(`   Points: ${thousands(points)}`);
      if (g.shards) lines.push(`   Shards: ${g.shards.inBackup} of ${g.shards.total} (Qdrant cluster)`);
      if (typeof c.nodes === 'number') lines.push(`   Nodes: ${thousands(c.nodes)}`);
      if (typeof c.relationships === 'number') lines.push(`   Relationships: ${thousands(c.relationships)}`);
      if (g.consistency) lines.push(`   ${g.consistency[0]!.toUpperCase()}${g.consistency.slice(1)}`);
    }
    lines.push(`   Valid backups: ${t.validBackups}`);
    const v = t.lastVerified;
    lines.push(
      v
        ? `   Last verified: ${displayTime(new Date(v.at))}${v.deep ? ' by restore drill' : ' (sha256)'} — ${v.ok ? 'ok' : 'FAILED'}`
        : '   Last verified: never (run `qnb verify --deep`)',
    );
    if (t.lastRun)
      lines.push(
        `   Last run: ${t.lastRun.ok ? 'ok' : 'FAILED'} (set ${t.lastRun.setId}, ${displayTime(new Date(t.lastRun.at))})`,
      );
    for (const p of t.problems) lines.push(`   ✘ ${p.message}`);
    lines.push('');
  }
  const bad = r.targets.filter((t) => !t.healthy);
  for (const p of r.problems) lines.push(`✘ ${p.message}`);
  for (const t of bad) for (const p of t.problems) lines.push(`✘ ${targetLabel(t)}: ${p.message}`);
  if (r.targets.length === 0) return lines;
  lines.push(
    r.healthy
      ? `Healthy: all ${r.targets.length} target(s) (max age ${formatDuration(r.maxAgeMs)}).`
      : `Unhealthy: ${bad.length} of ${r.targets.length} target(s) need attention (max age ${formatDuration(r.maxAgeMs)}).`,
  );
  return lines;
}

/** restore SET report: one line per store, and the way back when a step failed. */
export function renderRestoreSet(r: RestoreSetResult): string[] {
  const lines = [`=== Restore of set ${r.setId} ===`, ''];
  const icon = { restored: '✅', failed: '❌', untouched: '⏸' } as const;
  for (const s of r.steps) {
    const what = s.target === 'qdrant' ? `Qdrant (${s.name})` : `Neo4j (${s.name})`;
    const state =
      s.state === 'restored'
        ? 'restored and verified'
        : s.state === 'failed'
          ? `FAILED: ${s.detail}`
          : `not restored (left as it was)${s.detail ? `: ${s.detail}` : ''}`;
    lines.push(`${icon[s.state]} ${what}: ${state}`, `   from ${s.file}`);
  }
  for (const l of r.links ?? []) lines.push(`${l.ok ? '✅' : '❌'} Link ${l.name}: ${l.detail}`);
  if (r.safetySetId) lines.push('', `Safety backup of the previous state: set ${r.safetySetId}`);
  if (!r.ok && r.steps.every((s) => s.state === 'restored'))
    lines.push('', 'Every store was restored, but the pair does not hold the keys the backup recorded.');
  else if (!r.ok) {
    lines.push('', 'The stores are NOT at the same point now.');
    if (r.safetySetId) lines.push(`To go back to where you were: qnb restore ${r.safetySetId} --yes`);
  }
  return lines;
}
