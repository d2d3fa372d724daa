/**
 * The second half of `qnb run -- CMD…`: runs the risky command once its backup is safe. No shell
 * (the words are passed as they are), stdio shared with qnb, and the command's own exit status
 * comes back (128 + N when a signal N ended it). An interrupt of qnb is passed on to the command.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { Writable } from 'node:stream';

/** Options of runCommand. */
export interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where the command writes; `process.stdout`/`process.stderr` are shared directly. */
  stdout: Writable;
  stderr: Writable;
  /** On abort the command gets SIGTERM. */
  signal?: AbortSignal;
}

/** How the command ended. */
export type CommandOutcome =
  | { kind: 'exited'; code: number }
  | { kind: 'signaled'; signal: NodeJS.Signals; code: number }
  | { kind: 'not-started'; code: 126 | 127; message: string };

/** Runs `cmd args…` and resolves with its outcome. Never rejects. */
export function runCommand(cmd: string, args: string[], opts: RunCommandOptions): Promise<CommandOutcome> {
  return new Promise((resolve) => {
    const shared = (w: Writable, std: Writable) => (w === std ? 'inherit' : 'pipe');
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['inherit', shared(opts.stdout, process.stdout), shared(opts.stderr, process.stderr)],
    });
    child.stdout?.pipe(opts.stdout, { end: false });
    child.stderr?.pipe(opts.stderr, { end: false });
    const onAbort = () => child.kill('SIGTERM');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = (o: CommandOutcome) => {
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT')
        done({ kind: 'not-started', code: 127, message: `${cmd}: command not found` });
      else
        done({
          kind: 'not-started',
          code: 126,
          message: `${cmd}: cannot run it (${err.code ?? err.message})`,
        });
    });
    child.on('close', (code, signal) => {
      if (signal) done({ kind: 'signaled', signal, code: 128 + (constants.signals[signal] ?? 0) });
      else done({ kind: 'exited', code: code ?? 1 });
    });
  });
}
