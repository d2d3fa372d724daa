/**
 * Preloaded into qnb (`NODE_OPTIONS=--import …`): the disk fills up just as qnb records, in its
 * Neo4j marker, that a load is starting — writeFileSync of that marker throws ENOSPC, as a full
 * backups folder does; every other write goes through. A fault of the file system, injected where
 * a real full disk cannot be timed.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const real = fs.writeFileSync;
fs.writeFileSync = function writeFileSync(path, data, ...rest) {
  if (String(path).includes('.qnb-neo4j-stopped.json') && String(data).includes('"loading"')) {
    const err = new Error(`ENOSPC: no space left on device, write`);
    err.code = 'ENOSPC';
    err.errno = -28;
    err.syscall = 'write';
    throw err;
  }
  return real.call(this, path, data, ...rest);
};
syncBuiltinESMExports();
