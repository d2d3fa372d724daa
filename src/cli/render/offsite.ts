/**
 * Text output of off-site copies: `qnb copy` (`=== Copy to … ===`) and `qnb status --remote`
 * (`=== Off-site copies on … ===`).
 */
import type { CopyReport } from '../../core/copy.js';
import type { OffsiteReport, PlacedSet } from '../../core/offsite-status.js';
import { displayTime, formatDuration } from '../../core/time.js';
import { mb } from './format.js';

/** `=== Copy to DEST ===`: one line per set, then the totals and how copies are verified. */
export function renderCopy(r: CopyReport): string[] {
  const lines = [`=== Copy to ${r.target}${r.dryRun ? ' — dry run, nothing sent' : ''} ===`, ''];
  for (const s of r.sets) {
    const size = mb(s.artifacts.reduce((n, a) => n + a.bytes, 0));
    if (s.action === 'present') lines.push(`= ${s.id}: already there`);
    else if (s.action === 'copied') {
      const sent = s.artifacts.filter((a) => a.action === 'sent').length;
      lines.push(`✅ ${s.id}: copied ${sent} file(s) (${size}), manifest last`);
    } else if (s.action === 'would-copy') {
      lines.push(`→ ${s.id}: would copy`);
      for (const a of s.artifacts)
        lines.push(
          `   ${a.action === 'present' ? 'already there' : 'would send'}: ${a.file} (${mb(a.bytes)})`,
        );
    } else if (s.action === 'failed')
      lines.push(`❌ ${s.id}: ${s.error?.message ?? 'failed'}${s.error?.hint ? ` — ${s.error.hint}` : ''}`);
    else lines.push(`… ${s.id}: not tried (the copy stopped at an earlier error)`);
  }
  if (r.sets.length === 0) lines.push('(no valid backups to copy)');
  const verb = r.dryRun ? 'Would send' : 'Sent';
  const wouldBytes = r.sets
    .flatMap((s) => s.artifacts)
    .filter((a) => a.action === 'would-send')
    .reduce((n, a) => n + a.bytes, 0);
  const files = r.dryRun
    ? r.sets.flatMap((s) => s.artifacts).filter((a) => a.action === 'would-send').length
    : r.sentFiles;
  lines.push(
    '',
    `${verb} ${files} file(s), ${mb(r.dryRun ? wouldBytes : r.sentBytes)} in ${formatDuration(r.durationMs)}.`,
  );
  lines.push(`Verified by: ${r.verification}.`);
  if (r.encryption)
    lines.push(
      `Encrypted with age to ${r.encryption.recipients.length} recipient(s) (${r.encryption.recipients.map((k) => `${k.slice(0, 12)}…`).join(', ')}); restoring needs the identity.`,
    );
  return lines;
}

/** Sets `status --remote` lists one by one; older ones are summed up in one line. */
const OFFSITE_SHOWN = 10;

function placedLine(s: PlacedSet): string {
  const notes: string[] = [];
  if (s.reason === 'pre-command') notes.push('before `qnb run`');
  if (s.where === 'local') notes.push('not on the target');
  if (s.missingRemote.length) notes.push(`not on the target: ${s.missingRemote.join(', ')}`);
  if (s.missingLocal.length) notes.push(`not local: ${s.missingLocal.join(', ')}`);
  return `  ${s.id}  ${displayTime(new Date(s.startedAt))}  ${s.where}${notes.length ? ` — ${notes.join('; ')}` : ''}`;
}

const placementCounts = (c: OffsiteReport['counts']) =>
  `${c.both} in both places, ${c.local} local only, ${c.remote} only on the target`;

/** `=== Off-site copies on DEST ===`: each set (newest first) with where it is, then the health. */
export function renderOffsite(r: OffsiteReport): string[] {
  const lines = [`=== Off-site copies on ${r.target} ===`, ''];
  for (const s of r.sets.slice(0, OFFSITE_SHOWN)) lines.push(placedLine(s));
  const older = r.sets.slice(OFFSITE_SHOWN);
  if (older.length) {
    const c = { local: 0, remote: 0, both: 0 };
    for (const s of older) c[s.where]++;
    lines.push(`  … ${older.length} older set(s): ${placementCounts(c)}`);
  }
  if (r.sets.length === 0) lines.push('  (no backup sets)');
  lines.push('');
  const nl = r.newestLocal;
  if (nl)
    lines.push(
      `Newest local set: ${nl.id} (${formatDuration(nl.ageMs)} ago) — ${nl.where === 'local' ? 'NOT on the target' : 'on the target'}`,
    );
  if (r.newestRemote)
    lines.push(
      `Newest set on the target: ${r.newestRemote.id} (${formatDuration(r.newestRemote.ageMs)} ago)`,
    );
  for (const w of r.warnings) lines.push(`⚠ ${w}`);
  for (const p of r.problems) lines.push(`✘ off-site: ${p.message}`);
  lines.push(`${r.healthy ? 'Off-site healthy' : 'Off-site unhealthy'}: ${placementCounts(r.counts)}.`);
  return lines;
}
