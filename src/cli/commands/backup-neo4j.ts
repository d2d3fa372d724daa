/** `qnb backup-neo4j [--mode dump|export]` — dump the Neo4j database (stopped meanwhile on Community) or export it online. */
import type { Command } from '@commander-js/extra-typings';
import { type CommandHost, neo4jModeOption } from '../command.js';
import type { CommandContext } from '../io.js';
import { printBackupResult, withManager } from '../manager-for.js';

export function register(program: Command, host: CommandHost): void {
  program
    .command('backup-neo4j')
    .description(
      'back up the Neo4j database into backups/neo4j/: a dump (Community: stops Neo4j and always starts it again) or an online export',
    )
    .addOption(neo4jModeOption('--mode <mode>'))
    .addOption(neo4jModeOption('--neo4j-mode <mode>').hideHelp())
    .action((opts) =>
      host.setResult(runBackupNeo4j(host.context({ '--neo4j-mode': opts.mode ?? opts.neo4jMode }))),
    );
}

export async function runBackupNeo4j(ctx: CommandContext): Promise<number> {
  return withManager(ctx, undefined, async (manager) => {
    const exportMode = ctx.loaded.config.neo4j.mode === 'export';
    const result = await manager.backup('neo4j', {
      command: exportMode ? 'backup-neo4j --mode export' : 'backup-neo4j',
    });
    return printBackupResult(ctx, manager, result);
  });
}
