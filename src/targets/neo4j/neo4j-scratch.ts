/**
 * A scratch Neo4j of the same version as the live one, for restore drills (`verify --deep`):
 * never the live database. Local install: a temporary NEO4J_HOME that borrows the live install's
 * `bin/` and `lib/` and has its own data, conf and Bolt port, with authentication off.
 * Docker: a temporary volume and containers of the live container's image.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { QnbError } from '../../core/errors.js';
import type { BoltOptions } from './neo4j-bolt.js';
import { resolveContainer } from './neo4j-docker-host.js';
import { adminFailure, type RuntimeSpec, runCommand } from './neo4j-runtime.js';
import { proveScratchHome } from './neo4j-scratch-check.js';

/** A throwaway Neo4j. */
export interface ScratchNeo4j {
  /** Loads a dump file into the scratch database. */
  load(path: string): Promise<void>;
  /** `neo4j-admin database check`; rejects with its output when the store is inconsistent. */
  check(): Promise<void>;
  /** Starts the scratch server; resolves with how to reach it over Bolt (auth off). */
  start(): Promise<BoltOptions>;
  /** Stops and deletes everything it made. Never throws. */
  remove(): Promise<void>;
}

/** A free loopback port. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Runs a command with a file on stdin; rejects with stderr's tail on a non-zero exit. */
function runWithStdin(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv | undefined,
  file: string | undefined,
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: [file ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let out = '';
    // a full disk under the scratch home says nothing of the backup (verify.ts ENVIRONMENT):
    // neo4j-admin names it only in the --verbose stack trace, maybe far above its last lines
    let noSpace = false;
    const keep = (d: Buffer) => {
      noSpace ||= /no space left on device/i.test(out.slice(-200) + d);
      out = (out + d).slice(-6000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    // a child that dies while it is fed (EPIPE) is reported by its exit status below
    for (const st of [child.stdin, child.stdout, child.stderr]) st?.on('error', () => {});
    if (file) pipeline(createReadStream(file), child.stdin!).catch(() => {});
    child.on('error', (err) => reject(new QnbError('E_IO', `${what}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve();
      else {
        const tail = adminFailure(out);
        reject(
          noSpace
            ? new QnbError('E_IO', `${what}: no space left on device for the scratch Neo4j (${tmpdir()})`, {
                hint: 'free space there, or point TMPDIR at a larger disk',
              })
            : new QnbError('E_VERIFY', `${what}: neo4j-admin exited ${code}: ${tail}`),
        );
      }
    });
  });
}

function localScratch(liveHome: string, database: string, childEnv: NodeJS.ProcessEnv = {}): ScratchNeo4j {
  let home: string | undefined;
  let env: NodeJS.ProcessEnv = {};
  let port = 0;
  // set once `neo4j start` ran on the proven scratch home: only then is there a scratch to stop
  // (a `neo4j stop` through scripts that ignore NEO4J_HOME would stop the LIVE server)
  let started = false;
  const ensureHome = async () => {
    if (home) return home;
    home = await mkdtemp(join(tmpdir(), 'qnb-verify-neo4j-'));
    port = await freePort();
    for (const d of ['conf', 'data', 'logs', 'run', 'plugins', 'import'])
      await mkdir(join(home, d), { recursive: true });
    await symlink(join(liveHome, 'bin'), join(home, 'bin'));
    await symlink(join(liveHome, 'lib'), join(home, 'lib'));
    await writeFile(
      join(home, 'conf', 'neo4j.conf'),
      [
        'server.default_listen_address=127.0.0.1',
        `server.bolt.listen_address=127.0.0.1:${port}`,
        `server.bolt.advertised_address=127.0.0.1:${port}`,
        'server.http.enabled=false',
        'server.https.enabled=false',
        'dbms.security.auth_enabled=false',
        'dbms.usage_report.enabled=false',
        'server.memory.heap.initial_size=256m',
        'server.memory.heap.max_size=512m',
        'server.memory.pagecache.size=64m',
        `initial.dbms.default_database=${database}`,
        '',
      ].join('\n'),
    );
    env = { ...childEnv, NEO4J_HOME: home, NEO4J_CONF: join(home, 'conf') };
    // the borrowed scripts must act on the scratch home, never the live one
    await proveScratchHome(bin('neo4j-admin'), env, home);
    return home;
  };
  const bin = (name: string) => join(liveHome, 'bin', name);
  return {
    async load(path) {
      await ensureHome();
      await runWithStdin(
        bin('neo4j-admin'),
        ['database', 'load', database, '--from-stdin', '--overwrite-destination=true', '--verbose'],
        env,
        path,
        'drill: load',
      );
    },
    async check() {
      await ensureHome();
      await runWithStdin(
        bin('neo4j-admin'),
        ['database', 'check', database, '--verbose'],
        env,
        undefined,
        'drill: consistency check',
      );
    },
    async start() {
      await ensureHome();
      started = true;
      // env names the scratch home explicitly: the caller's NEO4J_HOME is the LIVE install
      const r = await runCommand(bin('neo4j'), ['start'], 'drill: scratch neo4j', {
        timeoutMs: 300_000,
        env,
      }).catch((e) => e);
      if (r?.code !== 0)
        throw new QnbError(
          'E_SERVER',
          `drill: the scratch Neo4j did not start: ${(r?.stderr ?? String(r)).trim().split('\n').pop()}`,
        );
      return { uri: `bolt://127.0.0.1:${port}`, user: 'neo4j', password: undefined, database };
    },
    async remove() {
      if (!home) return;
      if (started)
        await runCommand(bin('neo4j'), ['stop'], 'drill: scratch neo4j', { timeoutMs: 300_000, env }).catch(
          () => {},
        );
      await rm(home, { recursive: true, force: true }).catch(() => {});
    },
  };
}

function dockerScratch(
  container: string,
  database: string,
  docker = 'docker',
  childEnv?: NodeJS.ProcessEnv,
): ScratchNeo4j {
  const id = `qnb-verify-${randomBytes(4).toString('hex')}`;
  let image = '';
  let started = false;
  const getImage = async () => {
    if (image) return image;
    const name = await resolveContainer(container, docker, childEnv);
    const r = await runCommand(docker, ['inspect', '--format', '{{.Config.Image}}', name], 'drill');
    if (r.code !== 0) throw new QnbError('E_NOT_FOUND', `Container not found: ${name}`);
    image = r.stdout.trim();
    return image;
  };
  const admin = async (args: string[], file: string | undefined, what: string) => {
    const img = await getImage();
    await runWithStdin(
      docker,
      [
        'run',
        '--rm',
        ...(file ? ['-i'] : []),
        '--network',
        'none',
        '-v',
        `${id}:/data`,
        img,
        'neo4j-admin',
        ...args,
      ],
      childEnv,
      file,
      what,
    );
  };
  return {
    load: (path) =>
      admin(
        ['database', 'load', database, '--from-stdin', '--overwrite-destination=true', '--verbose'],
        path,
        'drill: load',
      ),
    check: () => admin(['database', 'check', database], undefined, 'drill: consistency check'),
    async start() {
      const img = await getImage();
      const port = await freePort();
      const env = [
        'NEO4J_AUTH=none',
        `NEO4J_server_bolt_listen__address=127.0.0.1:${port}`,
        `NEO4J_server_bolt_advertised__address=127.0.0.1:${port}`,
        'NEO4J_server_http_enabled=false',
        'NEO4J_server_https_enabled=false',
        `NEO4J_initial_dbms_default__database=${database}`,
      ].flatMap((e) => ['-e', e]);
      const r = await runCommand(
        docker,
        ['run', '-d', '--name', id, '--network', 'host', '-v', `${id}:/data`, ...env, img],
        'drill',
      );
      if (r.code !== 0)
        throw new QnbError(
          'E_SERVER',
          `drill: the scratch container did not start: ${r.stderr.trim().split('\n').pop()}`,
        );
      started = true;
      return { uri: `bolt://127.0.0.1:${port}`, user: 'neo4j', password: undefined, database };
    },
    async remove() {
      // -v: the image's anonymous volumes (the official image declares VOLUME /data /logs) go too
      if (started) await runCommand(docker, ['rm', '-f', '-v', id], 'drill').catch(() => {});
      await runCommand(docker, ['volume', 'rm', '-f', id], 'drill').catch(() => {});
    },
  };
}

/** A scratch Neo4j beside the live one described by `spec`; `childEnv` as for the runtimes. */
export function createScratchNeo4j(
  spec: RuntimeSpec,
  database: string,
  childEnv?: NodeJS.ProcessEnv,
): ScratchNeo4j {
  return spec.kind === 'docker'
    ? dockerScratch(spec.container, database, 'docker', childEnv)
    : localScratch(spec.home, database, childEnv);
}
