/**
 * Renders core events on stderr: progress bars on a terminal (cli-progress), plain lines in
 * logs and cron (start, every 10 s, end).
 */
import { createRequire } from 'node:module';
import type cliProgressTypes from 'cli-progress';
import type { QnbEvent, Reporter } from '../../core/events.js';
import { formatDuration } from '../../core/time.js';
import { mb } from './format.js';

/** Creates the CLI's reporter. `write` must redact. */
export function createCliReporter(
  write: (line: string) => void,
  opts: { tty: boolean; quiet?: boolean; stream: NodeJS.WritableStream },
): Reporter & { stop(): void } {
  let bar: cliProgressTypes.SingleBar | undefined;
  // loaded with the first bar: logs and cron never draw one
  const cliProgress = () => createRequire(import.meta.url)('cli-progress') as typeof cliProgressTypes;
  let lastLine = 0;
  const stopBar = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    emit(e: QnbEvent) {
      if (e.type === 'warning') {
        stopBar();
        write(`⚠ ${e.name ? `${e.target} (${e.name}): ` : ''}${e.message}`);
        return;
      }
      if (opts.quiet) return;
      switch (e.type) {
        case 'step':
          if (!bar) write(`• ${e.message}`);
          break;
        case 'transfer-start':
          if (opts.tty) {
            bar = new (cliProgress().SingleBar)(
              {
                format: `${e.direction} ${e.name} [{bar}] {percentage}% | {done} of {all}`,
                hideCursor: true,
                clearOnComplete: true,
                stream: opts.stream,
              },
              cliProgress().Presets.shades_classic,
            );
            bar.start(e.totalBytes ?? 0, 0, { done: mb(0), all: e.totalBytes ? mb(e.totalBytes) : '?' });
          } else {
            write(`• ${e.direction} ${e.name}: ${e.file}${e.totalBytes ? ` (${mb(e.totalBytes)})` : ''}`);
            lastLine = Date.now();
          }
          break;
        case 'transfer-progress':
          if (bar) bar.update(e.bytes, { done: mb(e.bytes) });
          else if (Date.now() - lastLine >= 10_000) {
            lastLine = Date.now();
            const pct = e.totalBytes ? ` (${Math.floor((100 * e.bytes) / e.totalBytes)}%)` : '';
            write(`  ${e.direction} ${e.name}: ${mb(e.bytes)}${pct}`);
          }
          break;
        case 'transfer-end': {
          stopBar();
          const rate = e.durationMs > 0 ? ` at ${mb((e.bytes * 1000) / e.durationMs)}/s` : '';
          write(`• ${e.direction} ${e.name}: ${mb(e.bytes)} in ${formatDuration(e.durationMs)}${rate}`);
          break;
        }
      }
    },
    stop: stopBar,
  };
}
