// root-cert.pem holds every trusted root: all issuers of the root mount, so a
// root rotation can overlap. Read through the PKI mount's unauthenticated
// endpoints (LIST issuers, issuer/<id>/json): the workload policy needs nothing more.

import type { Logger } from '../log/log.ts';
import { isSelfSigned, certificates } from '../certs/pem.ts';
import type { VaultClient } from './client.ts';

export function trustedRoots(opts: { vault: VaultClient; mount: string | undefined; log: Logger }): () => Promise<string> {
  let warned = false;
  return async () => {
    if (!opts.mount) return '';
    try {
      const list = await opts.vault.request<{ data: { keys: string[] } }>({ method: 'LIST', path: `${opts.mount}/issuers`, op: 'list-issuers' });
      const issuers = await Promise.all(
        list.data.keys.map(async (id) => (await opts.vault.request<{ data: { certificate: string; issuer_name?: string } }>({ method: 'GET', path: `${opts.mount}/issuer/${id}/json`, op: 'read-issuer' })).data),
      );
      // `bootstrap rotate --phase finish` renames a root it retires `retired-…` (src/bootstrap/steps/issuers.ts): kept in Vault, trusted no more.
      return issuers
        .filter((i) => !(i.issuer_name ?? '').startsWith('retired-'))
        .map((i) => i.certificate)
        .filter((p) => certificates(p).some(isSelfSigned))
        .join('\n');
    } catch (err) {
      // Not fatal: the issued chain carries its own root. Say so once.
      if (!warned) opts.log.warn({ mount: opts.mount, err: (err as Error).message }, 'cannot list the root mount\'s issuers; trusting the roots of the issued chain only');
      warned = true;
      return '';
    }
  };
}
