// Vault's own record of what was asked of it: a file audit device per test
// file, read back to count issue and login requests of one namespace.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vault } from '../ground/context.ts';

interface Entry {
  type: 'request' | 'response';
  time: string;
  auth?: { metadata?: Record<string, string> };
  request?: { path?: string; operation?: string };
}

export interface AuditLog {
  /** responses to `path` (a prefix such as `pki_istio/issue/`) made for service accounts of `ns`, since `since` */
  count(opts: { pathPrefix: string; ns: string; since?: Date }): Promise<number>;
}

export async function auditDevice(name: string): Promise<AuditLog> {
  const file = join(await mkdtemp(join(tmpdir(), 'vpa-audit-')), 'audit.log');
  await vault('PUT', `sys/audit/${name}`, { type: 'file', options: { file_path: file } });
  return {
    async count({ pathPrefix, ns, since }) {
      const text = await readFile(file, 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Entry)
        .filter(
          (e) =>
            e.type === 'response' &&
            e.request?.path?.startsWith(pathPrefix) &&
            e.auth?.metadata?.service_account_namespace === ns &&
            (!since || new Date(e.time) >= since),
        ).length;
    },
  };
}
