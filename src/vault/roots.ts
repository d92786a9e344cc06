// The one trust rule, for a fresh issue and a reuse at restart alike: a chain
// is trusted when it verifies to a root Vault vouches for now — an issuer of
// the root mount (all of them, so a root rotation can overlap) or the root of
// the issuing mount's default issuer. Only when Vault can tell neither does
// the caller fall back to the roots the set carries. Read through the PKI
// mounts' unauthenticated endpoints: the workload policy needs nothing more.

import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../log/log.ts';
import { isSelfSigned, certificates, toPem, uniqueCertificates } from '../certs/pem.ts';
import type { VaultClient } from './client.ts';

/**
 * `bootstrap rotate --phase finish` renames a root it retires `retired-…`
 * (docs/rotation.md): kept in Vault with its key, trusted no more.
 */
export const RETIRED_PREFIX = 'retired-';
export const isRetired = (name: string): boolean => name.startsWith(RETIRED_PREFIX);

/** The rule for a mount's issuers, as the agent and bootstrap's bundles apply it: each self-signed certificate of an issuer not retired, once. */
export function rootsOfIssuers(issuers: readonly { issuer_name?: string | undefined; certificate: string }[]): X509Certificate[] {
  return uniqueCertificates(issuers.filter((i) => !isRetired(i.issuer_name ?? '')).flatMap((i) => certificates(i.certificate).filter(isSelfSigned)));
}

export interface TrustedRootsOptions {
  vault: VaultClient;
  /** `--root-mount`; undefined: roots from the issued chain only */
  mount: string | undefined;
  /** `--pki-mount`: its default issuer's chain ends in the root the certificates are issued under */
  issuingMount?: string | undefined;
  log: Logger;
}

type Issuer = { certificate: string; issuer_name?: string; ca_chain?: string[] };

const selfSigned = (pem: string) => certificates(pem).filter(isSelfSigned);

/** PEM of every root Vault vouches for now, the issuing chain's root first; '' when Vault can tell none. */
export function trustedRoots(opts: TrustedRootsOptions): () => Promise<string> {
  const warned = new Set<string>();
  const warnOnce = (key: string, fields: Record<string, unknown>, message: string) => {
    if (warned.has(key)) return;
    warned.add(key);
    opts.log.warn(fields, message);
  };
  const read = (path: string, op: string) => opts.vault.request<{ data: Issuer }>({ method: 'GET', path, op }).then((r) => r.data);

  async function mountRoots(mount: string) {
    const list = await opts.vault.request<{ data: { keys: string[] } }>({ method: 'LIST', path: `${mount}/issuers`, op: 'list-issuers' });
    return rootsOfIssuers(await Promise.all(list.data.keys.map((id) => read(`${mount}/issuer/${id}/json`, 'read-issuer'))));
  }

  async function issuingRoot(mount: string) {
    const d = await read(`${mount}/issuer/default/json`, 'read-issuer');
    return selfSigned([d.certificate, ...(d.ca_chain ?? [])].join('\n'));
  }

  return async () => {
    if (!opts.mount) return '';
    const [fromMount, fromIssuing] = await Promise.all([
      mountRoots(opts.mount).catch((err: Error) => {
        // Not fatal: the issuing mount's root (or the issued chain's) still decides. Said once.
        warnOnce('mount', { rootMount: opts.mount, err: err.message }, `cannot list the issuers of --root-mount ${opts.mount}; trusting the root of --pki-mount ${opts.issuingMount ?? '(unset)'} only — if the roots live elsewhere, set --root-mount to that mount`);
        return [];
      }),
      opts.issuingMount
        ? issuingRoot(opts.issuingMount).catch((err: Error) => {
            warnOnce('issuing', { pkiMount: opts.issuingMount, err: err.message }, `cannot read the default issuer of --pki-mount ${opts.issuingMount}; trusting the issuers of --root-mount ${opts.mount} only`);
            return [];
          })
        : [],
    ]);
    const listed = new Set(fromMount.map((c) => c.fingerprint256));
    const outside = fromIssuing.filter((c) => !listed.has(c.fingerprint256));
    if (fromMount.length && outside.length) {
      // Trusted anyway (Vault issues under it), but the bundle then mixes in unrelated roots.
      warnOnce(
        'outside',
        { rootMount: opts.mount, pkiMount: opts.issuingMount, root: outside[0]!.subject.replace(/\n/g, ', ') },
        `the root of --pki-mount ${opts.issuingMount} is not an issuer of --root-mount ${opts.mount}; trusting it because Vault issues under it, but root-cert.pem also lists ${opts.mount}'s unrelated roots: set --root-mount to the mount that holds this root`,
      );
    }
    return uniqueCertificates([...fromIssuing, ...fromMount]).map(toPem).join('');
  };
}
