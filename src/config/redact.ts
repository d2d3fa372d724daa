/**
 * Secret stripping for everything qnb prints, logs or writes (restic's StripPassword).
 */

/** Replaces every secret value and any URL user-info password in `text` with `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 1) out = out.split(s).join('***');
  }
  // scheme://user:password@host → scheme://user:***@host
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]+):[^@/\s]+@/gi, '$1:***@');
}

/** A redacting string function bound to a set of secrets. */
export type Redactor = (text: string) => string;

/** Creates a redactor bound to the given secrets. */
export function createRedactor(secrets: readonly string[]): Redactor {
  return (text) => redact(text, secrets);
}
