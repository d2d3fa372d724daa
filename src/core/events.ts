/**
 * Typed progress events. Core code reports through an injected Reporter and never writes to
 * stdout itself (restic's Printer); the CLI renders events as progress bars or log lines.
 */
import type { TargetKind } from './manifest.js';

/** Every event core code emits. */
export type QnbEvent =
  | { type: 'step'; target?: TargetKind; name?: string; message: string }
  | { type: 'warning'; target?: TargetKind; name?: string; message: string }
  | {
      type: 'transfer-start';
      direction: 'download' | 'upload';
      target: TargetKind;
      name: string;
      file: string;
      totalBytes?: number;
    }
  | {
      type: 'transfer-progress';
      direction: 'download' | 'upload';
      name: string;
      bytes: number;
      totalBytes?: number;
    }
  | {
      type: 'transfer-end';
      direction: 'download' | 'upload';
      name: string;
      bytes: number;
      durationMs: number;
    };

/** Receives events; must not throw. */
export interface Reporter {
  emit(event: QnbEvent): void;
}

/** A reporter that drops everything (library default). */
export const silentReporter: Reporter = { emit() {} };

/** A reporter that calls a function for each event (library callers' progress hook). */
export function reporterFrom(fn: (e: QnbEvent) => void): Reporter {
  return {
    emit(e) {
      try {
        fn(e);
      } catch {
        // a broken listener must not break a backup
      }
    },
  };
}
