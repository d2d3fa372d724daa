/**
 * A self-signed certificate for a test's https servers, made by the openssl CLI (Debian's
 * `openssl`, present wherever Node's own packages are): valid for localhost, 127.0.0.1 and ::1,
 * or for another name when a test wants one that does not match. qnb runs as a child process
 * that trusts it through NODE_EXTRA_CA_CERTS, as a user with a private CA does.
 */
import { execFile, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface TestCert {
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/** True when the openssl CLI runs. */
export const opensslAvailable = (): boolean => spawnSync('openssl', ['version']).status === 0;

/** Writes `<name>.pem` and `<name>-key.pem` into `dir`: an EC P-256 certificate valid for `names`. */
export async function makeTestCert(
  dir: string,
  name = 'server',
  names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'],
): Promise<TestCert> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}-key.pem`);
  await promisify(execFile)(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '2',
      '-subj',
      `/CN=qnb test ${name}`,
      '-addext',
      `subjectAltName=${names.join(',')}`,
    ],
    { timeout: 30_000 },
  );
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}
