/** `qnb doctor`'s text output. */
import type { DoctorCheck } from '../../core/doctor.js';

/** doctor: one line per check, ✔ / ✘ / ⚠, with the fix after a dash. */
export function renderDoctor(checks: DoctorCheck[]): string[] {
  const lines = ['=== qnb doctor ===', ''];
  for (const c of checks) {
    const icon = !c.ok ? '✘' : c.warning ? '⚠' : '✔';
    lines.push(`${icon} ${c.area}: ${c.name} — ${c.detail}${!c.ok && c.fix ? ` — fix: ${c.fix}` : ''}`);
  }
  const bad = checks.filter((c) => !c.ok).length;
  lines.push('', bad ? `${bad} problem(s) found.` : 'Everything qnb needs is in place.');
  return lines;
}
