/**
 * Qdrant's snapshot compatibility rule: restore into the same minor version or the next one.
 */

import { parseVersion } from '../../core/version.js';

/**
 * Undefined when a snapshot from `source` can be restored into `target`; otherwise the reason.
 */
export function restoreIncompatibility(source: string, target: string): string | undefined {
  const s = parseVersion(source);
  const t = parseVersion(target);
  if (!s || !t) return `cannot compare Qdrant versions "${source}" and "${target}"`;
  if (s[0] !== t[0])
    return `snapshot from Qdrant ${source} cannot be restored into Qdrant ${target} (different major version)`;
  if (t[1] < s[1]) return `snapshot from Qdrant ${source} is newer than the server (${target})`;
  if (t[1] > s[1] + 1) {
    return `snapshot from Qdrant ${source} can be restored only into ${s[0]}.${s[1]}.x or ${s[0]}.${s[1] + 1}.x, not ${target}`;
  }
  return undefined;
}
