/** Names a configuration key's layer in error messages (`--cron`, `QNB_CRON`, `qnb.config.yaml: automation.cron`). */

import { KEYS } from '../config/keys.js';
import type { LoadedConfig } from '../config/load.js';

/** How the user set `path`, e.g. `--cron` or `QNB_CRON`. */
export function keySource(loaded: LoadedConfig, path: string): string {
  const key = KEYS.find((k) => k.path === path);
  switch (loaded.sources[path]) {
    case 'flag':
      return key?.flag ?? path;
    case 'env':
      return key?.env ?? path;
    case 'file':
      return `${loaded.file}: ${path}`;
    default:
      return `${path} (default)`;
  }
}
