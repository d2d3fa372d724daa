/**
 * age keys in configuration: recipients (public keys, `age1…`) and identities (secret keys,
 * `AGE-SECRET-KEY-1…`), in age's own file format — one per line, `#` comments — so the files
 * `age-keygen` writes can be used as they are.
 */

/** An X25519 (`age1…`) or hybrid post-quantum (`age1pq1…`) recipient: bech32, lower case. */
const RECIPIENT = /^age1[02-9ac-hj-np-z]{50,}$/;
/** An identity as `age-keygen` writes it. */
const IDENTITY = /^AGE-SECRET-KEY-(PQ-)?1[02-9AC-HJ-NP-Z]{50,}$/;

/** Lines of a recipients or identity file without comments and blanks (age's file format). */
function keyLines(text: string): string[] {
  return text
    .split(/[\r\n,]+/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .flatMap((l) => l.split(/\s+/));
}

/** Parses recipients: a list, or text with one per line / comma separated, `#` comments allowed. */
export function parseRecipients(raw: unknown): string[] {
  const items = Array.isArray(raw) ? raw.map(String).flatMap(keyLines) : keyLines(String(raw ?? ''));
  if (items.length === 0) throw new Error('holds no age recipient (age1…)');
  for (const r of items) {
    if (r.startsWith('AGE-SECRET-KEY-'))
      throw new Error('holds a secret key, not a recipient: give the public key (age1…), never the identity');
    if (!RECIPIENT.test(r)) throw new Error(`"${r}" is not an age recipient (age1…)`);
  }
  return [...new Set(items)];
}

/** Parses identities (the secret keys of `age-keygen`); errors never echo the value. */
export function parseIdentities(raw: unknown): string[] {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  const items = keyLines(raw);
  if (items.length === 0 || !items.every((i) => IDENTITY.test(i)))
    throw new Error('is not an age identity (the AGE-SECRET-KEY-1… lines that age-keygen writes)');
  return items;
}
