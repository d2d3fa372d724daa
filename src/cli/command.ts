/**
 * What a command file gives the program: `register(program, host)` declares the command, its
 * arguments and options (they live with the command) and runs it through `host`. Commands never
 * import commands; what several share is here, in destination.ts or in manager-for.ts.
 */
import { type Command, Option } from '@commander-js/extra-typings';
import { createContext } from './context.js';
import type { CliIO, CommandContext, GlobalOptions } from './io.js';

/** What a command's action gets from the program. */
export interface CommandHost {
  io: CliIO;
  global: () => GlobalOptions;
  /** Hands the command's exit status to runCli. */
  setResult(p: Promise<number>): void;
  /** Loads the configuration with the command's own flags (`{ '--keep-last': … }`). */
  context(flags?: Record<string, unknown>): CommandContext;
}

/** A command module: declares itself on the program. */
export interface CommandModule {
  register(program: Command, host: CommandHost): void;
}

/** The host of one program run. */
export function createHost(
  io: CliIO,
  global: () => GlobalOptions,
  setResult: (p: Promise<number>) => void,
): CommandHost {
  return { io, global, setResult, context: (flags = {}) => createContext(io, global(), flags) };
}

/** `--neo4j-mode` / `--mode`: dump or export. */
export function neo4jModeOption<F extends string>(flags: F) {
  return new Option(
    flags,
    'dump (neo4j-admin; Community: Neo4j stopped meanwhile) or export (online over Bolt, no downtime); env NEO4J_MODE',
  ).choices(['dump', 'export'] as const);
}

/** `--copy-to` of the commands that back up every target. */
export const COPY_TO_HELP = 'then copy to a folder or s3://bucket/prefix (retention only after)';

/** Resolves when `signal` fires. */
export function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
