/**
 * A local drill's scratch Neo4j borrows the live install's `bin/`. A packaged or hand-made install
 * may hard-code NEO4J_HOME/NEO4J_CONF in those scripts, and then the "scratch" load and start act
 * on the LIVE database. Before the scratch touches anything, `neo4j-admin server validate-config
 * --verbose` (harmless: it only reads the configuration) must report the scratch home and config.
 */
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { QnbError } from '../../core/errors.js';
import { runCommand } from './neo4j-runtime.js';

/** Rejects unless `neo4jAdmin`, run with `env`, resolves its home to `scratchHome` and reads its config. */
export async function proveScratchHome(
  neo4jAdmin: string,
  env: NodeJS.ProcessEnv,
  scratchHome: string,
): Promise<void> {
  const homes = [...new Set([scratchHome, await realpath(scratchHome).catch(() => scratchHome)])];
  const r = await runCommand(
    neo4jAdmin,
    ['server', 'validate-config', '--verbose'],
    'drill: scratch home check',
    {
      timeoutMs: 120_000,
      env,
    },
  );
  const out = `${r.stdout}\n${r.stderr}`;
  const home = /-Dapp\.home=([^,\]\s]+)/.exec(out)?.[1];
  const conf = /Validating Neo4j configuration: (\S+)/.exec(out)?.[1];
  const okHome = home !== undefined && homes.includes(home);
  const okConf = conf !== undefined && homes.some((h) => conf === join(h, 'conf', 'neo4j.conf'));
  if (!okHome || !okConf)
    throw new QnbError(
      'E_REFUSED',
      `drill: ${neo4jAdmin} does not honour the scratch NEO4J_HOME/NEO4J_CONF (it uses home ${home ?? 'unknown'}, config ${conf ?? 'unknown'}); refusing to load into what may be the live database`,
      {
        hint: 'let bin/neo4j and bin/neo4j-admin take NEO4J_HOME and NEO4J_CONF from the environment (as the Neo4j tarball does), or run the drill with Docker',
      },
    );
}
