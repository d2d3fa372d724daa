/**
 * Fault injection registry: faults are matched by operation (and collection), consumed in
 * injection order, and only by operations they can apply to.
 */
import type { Fault, FaultKind, FaultOp } from './types.js';

type Kind = FaultKind['kind'];

const DOWNLOADS: FaultOp[] = ['download-snapshot', 'download-full-snapshot'];
const CHECKSUM_OPS: FaultOp[] = [
  'create-snapshot',
  'list-snapshots',
  'create-full-snapshot',
  'list-full-snapshots',
];
const ASYNC_OPS: FaultOp[] = [
  'create-snapshot',
  'delete-snapshot',
  'upload-snapshot',
  'recover-snapshot',
  'create-full-snapshot',
  'delete-full-snapshot',
];
const MUTATING_OPS: FaultOp[] = [
  ...ASYNC_OPS,
  'create-collection',
  'delete-collection',
  'upsert',
  'aliases',
  'create-index',
];

/** Which operations a fault kind can affect (others never consume it). */
function applies(kind: Kind, op: FaultOp): boolean {
  switch (kind) {
    case 'status':
    case 'slow':
    case 'reset':
    case 'disk-full':
    case 'keep-alive-close':
      return true;
    case 'wrong-checksum':
    case 'null-checksum':
      return CHECKSUM_OPS.includes(op);
    case 'truncate':
    case 'compress':
      return DOWNLOADS.includes(op);
    case 'accepted':
      return ASYNC_OPS.includes(op);
    case 'proxy-gave-up':
      return ['create-snapshot', 'upload-snapshot', 'recover-snapshot', 'create-full-snapshot'].includes(op);
    case 'drop-after-commit':
      return MUTATING_OPS.includes(op);
    case 'degraded-index':
      return op === 'query';
  }
}

/** Faults that hit one request: at most one `slow` plus at most one other kind. */
export interface ActiveFaults {
  slow?: Extract<FaultKind, { kind: 'slow' }>;
  main?: Exclude<FaultKind, { kind: 'slow' }>;
}

interface Entry {
  fault: Fault;
  left: number;
}

/** Holds injected faults. */
export class FaultRegistry {
  private entries: Entry[] = [];

  /** Add a fault (times defaults to 1). */
  inject(fault: Fault): void {
    const times = fault.times ?? 1;
    if (!(times > 0)) throw new Error(`fault.times must be > 0, got ${times}`);
    this.entries.push({ fault: { ...fault, fault: { ...fault.fault } }, left: times });
  }

  clear(): void {
    this.entries = [];
  }

  /** Consume the faults matching this request. */
  take(op: FaultOp, collection: string | undefined): ActiveFaults {
    const out: ActiveFaults = {};
    for (const e of this.entries) {
      const f = e.fault;
      if (e.left <= 0) continue;
      if (f.op !== 'any' && f.op !== op) continue;
      if (f.collection !== undefined && f.collection !== collection) continue;
      if (!applies(f.fault.kind, op)) continue;
      if (f.fault.kind === 'slow') {
        if (out.slow) continue;
        out.slow = f.fault;
      } else {
        if (out.main) continue;
        out.main = f.fault;
      }
      e.left -= 1;
    }
    this.entries = this.entries.filter((e) => e.left > 0);
    return out;
  }
}
