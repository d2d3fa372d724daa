/**
 * Quiesce hooks around a backup set (`hooks.beforeSet` / `hooks.afterSet`, borgmatic's
 * before/after hooks): a shell command from the config file, run with a timeout in its own
 * process group (killed whole on timeout or interrupt). qnb passes it no secret: the command is
 * the user's own text, and its environment is qnb's.
 */
import { spawn } from 'node:child_process';
import type { HookRecord } from './manifest.js';

/** Time a killed hook gets between SIGTERM and SIGKILL. */
const KILL_GRACE_MS = 5_000;

/** Runs one hook; never throws. `signal` kills it (the after hook runs without one). */
export function runHook(
  hook: HookRecord['hook'],
  command: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<HookRecord> {
  const started = Date.now();
  return new Promise((resolve) => {
    let stderr = '';
    let why: string | undefined;
    const child = spawn('/bin/sh', ['-c', command], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    const kill = (reason: string) => {
      why ??= reason;
      try {
        process.kill(-child.pid!, 'SIGTERM');
        setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {}
        }, KILL_GRACE_MS).unref();
      } catch {}
    };
    const timer = setTimeout(() => kill(`timed out after ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
    const onAbort = () => kill('interrupted');
    signal?.addEventListener('abort', onAbort, { once: true });
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString('utf8')).slice(-2000);
    });
    const done = (exitCode: number | null, error?: string) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      const ok = exitCode === 0 && !why && !error;
      const last = stderr.trim().split('\n').at(-1)?.slice(0, 300);
      const detail = ok
        ? undefined
        : [why ?? error ?? `exited with status ${exitCode}`, last].filter(Boolean).join(': ');
      resolve({ hook, ok, durationMs: Date.now() - started, exitCode, ...(detail ? { detail } : {}) });
    };
    child.on('error', (err) => done(null, err.message));
    child.on('close', (code) => done(code));
    if (signal?.aborted) onAbort();
  });
}
