/**
 * Real components in tests: when one is missing, a test skips locally with a one-line hint
 * and fails in CI (CI=true), like restic's RESTIC_TEST_DISALLOW_SKIP.
 */
import type { TestContext } from 'node:test';

/** True when running in CI, where every component must be present. */
export const IN_CI = process.env.CI === 'true';

/**
 * Returns true when the component is there. Otherwise skips the test with `hint` (locally) or
 * throws (in CI).
 */
export function requireComponent(t: TestContext, name: string, available: boolean, hint: string): boolean {
  if (available) return true;
  if (IN_CI) throw new Error(`${name} is required in CI but missing: ${hint}`);
  t.skip(`${name} missing — ${hint}`);
  return false;
}
