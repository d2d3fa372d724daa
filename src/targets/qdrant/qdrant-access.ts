/**
 * What the configured API key may do on a Qdrant server.
 *
 * A read-only key (`service.read_only_api_key`) can list collections and list and download
 * snapshots, but snapshot create, delete, upload and recover need manage access (403 "Forbidden:
 * Global manage access is required"). The harmless probe: delete a full snapshot whose name cannot
 * exist. Qdrant checks access before it looks for the file, so a manage key gets 404 and a
 * read-only key 403; nothing is changed either way.
 */
import { randomBytes } from 'node:crypto';
import { QnbError } from '../../core/errors.js';
import type { QdrantApi } from './qdrant-api.js';

/** Access of the key qnb uses. */
export type QdrantAccess = 'manage' | 'read-only';

/** What each access level lets qnb do (for doctor and error hints). */
export const ACCESS_ALLOWS: Record<QdrantAccess, string> = {
  manage: 'backup, restore, verify and server-side cleanup',
  'read-only':
    'listing and downloading existing snapshots only: backup (snapshot create/delete) and restore (upload) need a manage key',
};

/** Is this error Qdrant's 403 for a write with a read-only key? */
export function isForbidden(err: unknown): boolean {
  return err instanceof QnbError && err.code === 'E_AUTH' && /\(403\)/.test(err.message);
}

/** Probes the key's access; other errors (401, network) are thrown as they are. */
export async function probeAccess(api: QdrantApi): Promise<QdrantAccess> {
  const name = `qnb-access-probe-${randomBytes(8).toString('hex')}.snapshot`;
  try {
    await api.deleteSnapshot(null, name);
    return 'manage';
  } catch (err) {
    if (isForbidden(err)) return 'read-only';
    throw err;
  }
}

/**
 * After an upload broke off on the network: a read-only key makes Qdrant refuse the upload
 * before reading it (the connection is reset while the body is still being sent). Returns an
 * E_AUTH error when the probe says so, else the original error.
 */
export async function explainUploadFailure(
  api: QdrantApi,
  collection: string,
  err: unknown,
): Promise<unknown> {
  if (!(err instanceof QnbError) || err.code !== 'E_CONNECT') return err;
  const access = await probeAccess(api).catch(() => undefined);
  if (access !== 'read-only') return err;
  return new QnbError(
    'E_AUTH',
    `qdrant ${api.baseUrl}: upload snapshot to "${collection}": refused, the API key is read-only (the server closed the connection before reading the upload)`,
    {
      hint: 'set QDRANT_API_KEY to a manage key (service.api_key), not service.read_only_api_key',
      cause: err,
    },
  );
}

/** Doctor's check of the key's access (manage vs read-only), with what each allows. */
export async function qdrantAccessCheck(api: QdrantApi): Promise<{
  area: 'qdrant';
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}> {
  const name = 'API key access';
  try {
    const access = await probeAccess(api);
    if (access === 'manage')
      return { area: 'qdrant', name, ok: true, detail: `manage: ${ACCESS_ALLOWS.manage}` };
    return {
      area: 'qdrant',
      name,
      ok: false,
      detail: `read-only key (no global manage access): ${ACCESS_ALLOWS['read-only']}`,
      fix: 'set QDRANT_API_KEY to the manage key (service.api_key), not service.read_only_api_key',
    };
  } catch (err) {
    return {
      area: 'qdrant',
      name,
      ok: false,
      detail: `could not tell manage from read-only access: ${(err as Error).message}`,
      fix: (err as { hint?: string }).hint ?? 'check QDRANT_API_KEY',
    };
  }
}
