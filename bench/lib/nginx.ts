/**
 * A static file server that costs what Qdrant costs to stream a snapshot (Debian's nginx with
 * `sendfile on`: the kernel copies the file to the socket), so a download's figures show the
 * client's own cost. Started with its own temp prefix and config, listening on 127.0.0.1 only,
 * in its own process group (bench/lib/proc.ts) and stopped by PID.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { link, mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnTracked, stopChild } from './proc.js';

export const NGINX = '/usr/sbin/nginx';
export const hasNginx = (): boolean => existsSync(NGINX);

/** A running nginx serving `root`. */
export interface StaticServer {
  /** Base URL (http://127.0.0.1:PORT), with the same paths as Qdrant's snapshot download. */
  url: string;
  /** The same over TLS (https://127.0.0.1:PORT2) when started with a certificate. */
  httpsUrl?: string;
  pid: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Serves `file` at `/collections/COLLECTION/snapshots/NAME` (hard-linked into the prefix, no copy)
 * from an nginx started for the bench in `dir`.
 */
export async function startStaticServer(
  dir: string,
  file: string,
  collection: string,
  name: string,
  tls?: { certFile: string; keyFile: string },
): Promise<StaticServer> {
  const root = join(dir, 'root');
  const where = join(root, 'collections', collection, 'snapshots');
  await mkdir(where, { recursive: true });
  await mkdir(join(dir, 'logs'), { recursive: true });
  await link(file, join(where, name));
  const port = await freePort();
  const tlsPort = tls ? await freePort() : 0;
  const conf = join(dir, 'nginx.conf');
  await writeFile(
    conf,
    [
      // one process serving (no master/worker pair): no privilege switch to a user that cannot
      // read the bench's private temp folder, one PID to stop
      'master_process off;',
      'daemon off;',
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'logs', 'error.log')} warn;`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      '  sendfile on;',
      '  tcp_nopush on;',
      '  default_type application/octet-stream;',
      `  client_body_temp_path ${join(dir, 'tmp')};`,
      `  proxy_temp_path ${join(dir, 'tmp')};`,
      `  fastcgi_temp_path ${join(dir, 'tmp')};`,
      `  uwsgi_temp_path ${join(dir, 'tmp')};`,
      `  scgi_temp_path ${join(dir, 'tmp')};`,
      `  server { listen 127.0.0.1:${port}; root ${root}; }`,
      ...(tls
        ? [
            // TLS 1.3 and nginx's defaults otherwise, as a TLS-terminating proxy in front of Qdrant serves
            `  server { listen 127.0.0.1:${tlsPort} ssl; ssl_protocols TLSv1.2 TLSv1.3; ssl_certificate ${tls.certFile}; ssl_certificate_key ${tls.keyFile}; root ${root}; }`,
          ]
        : []),
      '}',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawnTracked(NGINX, [
    '-p',
    dir,
    '-e',
    join(dir, 'logs', 'error.log'),
    '-c',
    conf,
  ]);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/collections/${collection}/snapshots/${encodeURIComponent(name)}`, {
      method: 'HEAD',
    })
      .then((r) => r.status === 200)
      .catch(() => false);
    if (ok) break;
    if (i > 100) {
      await stopChild(child);
      throw new Error(`nginx did not answer on ${url}: ${stderr}`);
    }
    await sleep(50);
  }
  return {
    url,
    ...(tls ? { httpsUrl: `https://127.0.0.1:${tlsPort}` } : {}),
    pid: child.pid ?? 0,
    stop: () => stopChild(child),
  };
}
