/**
 * Builds a command's context: loads configuration (flags > env > file > defaults) and gives
 * output helpers that redact secrets. Light on purpose (`qnb list` and `qnb status` load it);
 * the manager wired to the CLI's reporter is in manager-for.ts.
 */
import { loadConfig } from '../config/load.js';
import { createRedactor, rememberSecrets, shortSecretWarning } from '../config/redact.js';
import type { CliIO, CommandContext, GlobalOptions } from './io.js';

/** Loads config for a command; throws ConfigError before anything is touched. */
export function createContext(
  io: CliIO,
  global: GlobalOptions,
  flags: Record<string, unknown> = {},
): CommandContext {
  const loaded = loadConfig({
    configFile: global.config,
    env: io.env,
    cwd: io.cwd,
    flags: {
      '--backup-dir': global.backupDir,
      '--qdrant-url': global.qdrantUrl,
      '--qdrant-node': global.qdrantNode,
      ...flags,
    },
  });
  // the run's last error is redacted with these too (cli/main.ts)
  rememberSecrets(io, loaded.secrets);
  const redact = createRedactor(loaded.secrets);
  const { config } = loaded;
  const weak = shortSecretWarning({
    QDRANT_API_KEY: config.qdrant.apiKey,
    NEO4J_PASSWORD: config.neo4j.password,
    AWS_SECRET_ACCESS_KEY: config.s3.secretAccessKey,
  });
  if (weak) io.stderr.write(`${weak}\n`);
  return {
    io,
    loaded,
    redact,
    json: Boolean(global.json),
    out: (line = '') => io.stdout.write(`${redact(line)}\n`),
    err: (line = '') => io.stderr.write(`${redact(line)}\n`),
  };
}

/** Writes a result as JSON on stdout (secrets redacted). */
export function printJson(ctx: CommandContext, value: unknown): void {
  ctx.io.stdout.write(`${ctx.redact(JSON.stringify(value, null, 2))}\n`);
}
