/**
 * Where a process runs, for locks and markers written into a backups folder that several qnb
 * processes may share — on one host, or in containers (a sidecar and `docker run --rm` one-offs,
 * possibly all with the host's name under `--network host`). A PID means something only inside
 * one PID namespace: a holder in another namespace is judged by its container instead.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** What a lock or marker records of its writer. */
export interface ProcessPlace {
  host: string;
  /** `/proc/self/ns/pid` (e.g. `pid:[4026532212]`); absent in files of older qnb versions. */
  pidNs?: string | null;
  /** The Docker container id qnb ran in, if any. */
  container?: string | null;
}

/** This process's PID namespace, or null where /proc does not say. */
function pidNamespace(): string | null {
  try {
    return readlinkSync('/proc/self/ns/pid');
  } catch {
    return null;
  }
}

/**
 * The id of the Docker container this process runs in (from the engine's files mounted at
 * /etc/hostname, /etc/hosts, /etc/resolv.conf), or null outside a container.
 */
export function ownContainerIdSync(): string | null {
  if (!existsSync('/.dockerenv')) return null;
  try {
    const info = readFileSync('/proc/self/mountinfo', 'utf8');
    return /\/containers\/([0-9a-f]{64})\/(hostname|hosts|resolv\.conf)\s/.exec(info)?.[1] ?? null;
  } catch {
    return null;
  }
}

/** Where this process runs. */
export function processPlace(): Required<ProcessPlace> {
  return { host: hostname(), pidNs: pidNamespace(), container: ownContainerIdSync() };
}

/**
 * How this process can judge the writer of a lock or marker:
 * - `here`: same host and PID namespace: its PID tells whether it runs;
 * - `gone`: an earlier run of this same container (it restarted: every process of that run ended);
 * - `elsewhere`: another host or another container: nothing here can tell, never assume it ended.
 */
export function placeOf(writer: ProcessPlace): 'here' | 'gone' | 'elsewhere' {
  const me = processPlace();
  if (writer.host !== me.host) return 'elsewhere';
  if (!writer.pidNs || !me.pidNs || writer.pidNs === me.pidNs) return 'here';
  if (writer.container && writer.container === me.container) return 'gone';
  return 'elsewhere';
}
