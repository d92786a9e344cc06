// Reading a PKI mount's issuers: the facts the CA steps decide on.

import type { BootstrapVault } from '../vault.ts';

export interface Issuer {
  id: string;
  name: string;
  /** empty for an issuer imported without its key (the root, in the intermediate mount) */
  keyId: string;
  certificate: string;
}

/**
 * Issuer names are where a rotation keeps its record (see docs/rotation.md):
 * a retired root is renamed `retired-…` and leaves every trust bundle, agents'
 * root-cert.pem included — one rule, defined beside the agent's reader.
 */
export { isRetired, RETIRED_PREFIX } from '../../vault/roots.ts';

export async function listIssuers(vault: BootstrapVault, mount: string): Promise<Issuer[]> {
  const ids = await vault.list(`${mount}/issuers`, 'list issuers');
  const out: Issuer[] = [];
  for (const id of ids) {
    const i = await vault.read(`${mount}/issuer/${id}`, 'read issuer');
    if (i) out.push({ id, name: i.issuer_name ?? '', keyId: i.key_id ?? '', certificate: String(i.certificate ?? '').trim() });
  }
  return out;
}

export async function defaultIssuerId(vault: BootstrapVault, mount: string): Promise<string | undefined> {
  const c = await vault.read(`${mount}/config/issuers`, 'read default issuer');
  return c?.default || undefined;
}
