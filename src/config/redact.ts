/**
 * Secret stripping for everything qnb prints, logs or writes (restic's StripPassword).
 *
 * A secret of 8 characters or more is replaced wherever it occurs (raw, URL-encoded or
 * JSON-escaped). A shorter one is replaced only where it stands as a whole value — not inside a
 * longer word — since replacing every `k` would corrupt the output (a crontab line with every letter k starred), and
 * `shortSecretWarning` tells the user to pick a longer one.
 */

/** Secrets shorter than this are only redacted as whole values, and warned about. */
export const MIN_SECRET_LENGTH = 8;

const WORD = /[A-Za-z0-9]/;

/** Replaces `s` in `text`; with `whole`, only where no letter or digit continues it on either side. */
function replaceSecret(text: string, s: string, whole: boolean): string {
  const headWord = WORD.test(s[0] ?? '');
  const tailWord = WORD.test(s[s.length - 1] ?? '');
  let out = '';
  let from = 0;
  let i = text.indexOf(s);
  while (i >= 0) {
    const before = text[i - 1];
    const after = text[i + s.length];
    const inside =
      whole &&
      ((headWord && before !== undefined && WORD.test(before)) ||
        (tailWord && after !== undefined && WORD.test(after)));
    if (inside) {
      i = text.indexOf(s, i + 1);
      continue;
    }
    out += `${text.slice(from, i)}***`;
    from = i + s.length;
    i = text.indexOf(s, from);
  }
  return out + text.slice(from);
}

/** Replaces every secret value and any URL user-info password in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (!s) continue;
    const whole = s.length < MIN_SECRET_LENGTH;
    // the forms a value takes in a URL and in JSON output
    for (const form of new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1)]))
      out = replaceSecret(out, form, whole);
  }
  // scheme://user:password@host → scheme://user:***@host
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@/\s]+@/gi, '$1:***@');
}

/**
 * A URL as manifests record it: without `user:password@`, which may hold a secret (URL user info
 * is sent as Basic auth). Manifests are written raw, not through the redactor, and travel with
 * off-site copies.
 */
export const withoutUserInfo = (url: string): string =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');

/** A redacting string function bound to a set of secrets. */
export type Redactor = (text: string) => string;

/** Creates a redactor bound to the given secrets. */
export function createRedactor(secrets: readonly string[]): Redactor {
  return (text) => redact(text, secrets);
}

/** One warning line for secrets too short to redact safely everywhere, or undefined. */
export function shortSecretWarning(named: Record<string, string | undefined>): string | undefined {
  const short = Object.entries(named)
    .filter(([, v]) => v && v.length < MIN_SECRET_LENGTH)
    .map(([k]) => k);
  if (!short.length) return undefined;
  return `⚠ ${short.join(', ')} ${short.length > 1 ? 'are' : 'is'} shorter than ${MIN_SECRET_LENGTH} characters: qnb hides ${short.length > 1 ? 'them' : 'it'} only where ${short.length > 1 ? 'they stand' : 'it stands'} alone (URLs, headers, settings), not inside other words — use a longer secret`;
}

/** Secrets a run's configuration held (file, `*_FILE`, environment), by the run's I/O object. */
const remembered = new WeakMap<object, readonly string[]>();

/** Remembers the secrets of the run that `owner` stands for (its CLI I/O), for its last error. */
export function rememberSecrets(owner: object, secrets: readonly string[]): void {
  remembered.set(owner, secrets);
}

/** The secrets remembered for `owner`; none before its configuration was loaded. */
export function rememberedSecrets(owner: object): readonly string[] {
  return remembered.get(owner) ?? [];
}
