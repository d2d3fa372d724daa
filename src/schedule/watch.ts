/**
 * `qnb watch`: turns file-change events into backups. The gate merges a burst of changes
 * (debounce), starts at most one backup per cooldown, and never loses a change: a change during
 * a backup or during the cooldown leaves exactly one backup pending, which starts when the
 * backup ends and the cooldown is over. The watcher looks at the file's folder and filters by
 * name, so a file replaced by rename (how SQLite tools and editors save) is still seen.
 */
import { basename, dirname, resolve } from 'node:path';
import { formatDuration } from '../core/time.js';

/** What a backup attempt came to, as the gate needs it. */
export type AttemptOutcome =
  /** The backup ran (whatever its status): the cooldown starts from its start. */
  | 'done'
  /** Nothing ran (another qnb held the lock): try again after `retryMs`, no cooldown. */
  | 'retry';

/** Options of createChangeGate. */
export interface ChangeGateOptions {
  /** Quiet time that ends a burst. */
  debounceMs: number;
  /** Least time between the starts of two backups. */
  cooldownMs: number;
  /** Starts one backup. Must not throw. */
  run: () => Promise<AttemptOutcome>;
  /** Wait before trying again after `retry`. @default max(debounceMs, 5000) */
  retryMs?: number;
  /** Log lines (`change noted; backup at 10:42:00 after the cooldown`). */
  log?: (line: string) => void;
  now?: () => number;
}

/** The gate. */
export interface ChangeGate {
  /** A change was seen. */
  poke(): void;
  /** Stops timers; a pending change is dropped. Resolves when a running backup has ended. */
  close(): Promise<void>;
  /** True while a backup runs. */
  readonly busy: boolean;
}

const clock = (ms: number) => new Date(ms).toTimeString().slice(0, 8);

/** Creates the debounce + cooldown gate. */
export function createChangeGate(opts: ChangeGateOptions): ChangeGate {
  const now = opts.now ?? Date.now;
  const retryMs = opts.retryMs ?? Math.max(opts.debounceMs, 5000);
  const log = opts.log ?? (() => {});
  let debounce: NodeJS.Timeout | undefined;
  let waiting: NodeJS.Timeout | undefined; // cooldown or retry timer
  let pending = false;
  let running: Promise<void> | undefined;
  let lastStart: number | undefined;
  let closed = false;

  function later(ms: number, why: string) {
    if (waiting) return;
    log(`change noted; backup at ${clock(now() + ms)} ${why}`);
    waiting = setTimeout(() => {
      waiting = undefined;
      maybeRun();
    }, ms);
  }

  function maybeRun() {
    if (closed || running || !pending || waiting) return;
    const wait = lastStart === undefined ? 0 : lastStart + opts.cooldownMs - now();
    if (wait > 0) return later(wait, 'after the cooldown');
    pending = false;
    const previousStart = lastStart;
    lastStart = now();
    running = opts.run().then((outcome) => {
      running = undefined;
      if (outcome === 'retry') {
        lastStart = previousStart;
        pending = true;
        if (!closed) later(retryMs, 'when the lock is free');
        return;
      }
      maybeRun();
    });
  }

  return {
    poke() {
      if (closed) return;
      if (debounce) clearTimeout(debounce);
      else log(`change seen; backing up after ${formatDuration(opts.debounceMs)} without changes`);
      debounce = setTimeout(() => {
        debounce = undefined;
        pending = true;
        maybeRun();
      }, opts.debounceMs);
    },
    async close() {
      closed = true;
      if (debounce) clearTimeout(debounce);
      if (waiting) clearTimeout(waiting);
      await running;
    },
    get busy() {
      return running !== undefined;
    },
  };
}

/** A running file watcher. */
export interface FileWatcher {
  close(): Promise<void>;
}

/**
 * Watches `path` through its folder and calls `onChange(event)` when a file of that name is
 * added, changed, or moved into place; `onRemove` when it disappears. Resolves once watching.
 */
export async function watchFile(
  path: string,
  handlers: {
    onChange: (event: 'add' | 'change') => void;
    onRemove?: () => void;
    onError?: (e: Error) => void;
  },
): Promise<FileWatcher> {
  const { watch } = await import('chokidar');
  const file = resolve(path);
  const dir = dirname(file);
  const name = basename(file);
  const watcher = watch(dir, {
    depth: 0,
    ignoreInitial: true,
    persistent: true,
    // only the folder itself and the watched name: a busy folder (Zotero's storage) costs nothing
    ignored: (p: string) => p !== dir && basename(p) !== name,
  });
  watcher.on('all', (event, p) => {
    if (resolve(p) !== file) return;
    if (event === 'add' || event === 'change') handlers.onChange(event);
    else if (event === 'unlink') handlers.onRemove?.();
  });
  watcher.on('error', (e) => handlers.onError?.(e instanceof Error ? e : new Error(String(e))));
  await new Promise<void>((ready) => watcher.once('ready', () => ready()));
  return { close: () => watcher.close() };
}
