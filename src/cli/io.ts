/**
 * What a command needs from its process, injectable so tests run commands without a subprocess.
 */
import type { Writable } from 'node:stream';
import type { LoadedConfig } from '../config/load.js';
import type { Redactor } from '../config/redact.js';

/** Process surroundings of one command run. */
export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  /** True when stderr is a terminal (progress bars) . */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal: AbortSignal;
}

/** Options every command accepts. */
export interface GlobalOptions {
  json?: boolean;
  config?: string;
  backupDir?: string;
  qdrantUrl?: string;
  /** `--qdrant-node URL` (repeatable): REST URLs of the nodes of a Qdrant cluster. */
  qdrantNode?: string[];
}

/** A loaded command context: config plus output helpers that redact secrets. */
export interface CommandContext {
  io: CliIO;
  loaded: LoadedConfig;
  redact: Redactor;
  json: boolean;
  /** Writes a line to stdout, redacted. */
  out(line?: string): void;
  /** Writes a line to stderr, redacted. */
  err(line?: string): void;
}
