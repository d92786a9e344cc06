// A credential set: leaf, intermediates, trusted roots and the private key,
// checked as one before anything touches the disk — key matches leaf, chain
// verifies up to a root, the SPIFFE ID is the expected one, still valid.

import type { X509Certificate, KeyObject } from 'node:crypto';
import { AgentError } from '../errors.ts';
import { certificates, isSelfSigned, privateKeys, toPem, uniqueCertificates, uriSans } from './pem.ts';

export interface Bundle {
  leaf: X509Certificate;
  /** issuers between leaf and root, leaf's issuer first */
  intermediates: X509Certificate[];
  roots: X509Certificate[];
  keyPem: string;
  key: KeyObject;
  spiffeId: string | undefined;
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

function sortChain(leaf: X509Certificate, cas: X509Certificate[]): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current = leaf;
  const pool = [...cas];
  for (;;) {
    const i = pool.findIndex((c) => c.subject === current.issuer && current.checkIssued(c) && current.verify(c.publicKey));
    if (i < 0) return chain;
    current = pool.splice(i, 1)[0]!;
    chain.push(current);
  }
}

/**
 * Builds a Bundle from any mix of PEM text: the leaf is the non-CA certificate
 * whose public key matches the private key; intermediates are the CAs that
 * chain from it; roots are every self-signed certificate present.
 */
export function assembleBundle(parts: {
  pemText: string;
  /**
   * When non-empty, the only roots trusted (self-signed certificates in
   * pemText are ignored): the agent passes what Vault vouches for now
   * (src/vault/roots.ts), for a fresh issue and a reuse alike. Empty: the
   * self-signed certificates in pemText are the roots.
   */
  trustedRoots?: string;
}): Bundle {
  const certs = certificates(parts.pemText);
  const keys = privateKeys(parts.pemText);
  if (keys.length !== 1) throw new AgentError('CERT_INVALID', `expected exactly one private key, found ${keys.length}`);
  const { key, pem: keyPem } = keys[0]!;
  const leaf = certs.find((c) => !c.ca && c.checkPrivateKey(key));
  if (!leaf) {
    throw new AgentError('CERT_INVALID', 'no certificate matches the private key: the key and the certificate come from different issuances');
  }
  const roots = uniqueCertificates((parts.trustedRoots ? certificates(parts.trustedRoots) : certs).filter(isSelfSigned));
  const chain = sortChain(leaf, certs.filter((c) => c.ca && !isSelfSigned(c)));
  return describe(leaf, chain, roots, key, keyPem);
}

function describe(leaf: X509Certificate, intermediates: X509Certificate[], roots: X509Certificate[], key: KeyObject, keyPem: string): Bundle {
  const uris = uriSans(leaf).filter((u) => u.startsWith('spiffe://'));
  return {
    leaf,
    intermediates,
    roots,
    key,
    keyPem,
    spiffeId: uris[0],
    serial: leaf.serialNumber,
    notBefore: new Date(leaf.validFrom),
    notAfter: new Date(leaf.validTo),
  };
}

export interface Problem {
  check: 'key-match' | 'chain' | 'spiffe-id' | 'validity';
  message: string;
}

/** What is wrong with a bundle for `expectedId` at `now`; empty means sound. */
export function problems(b: Bundle, opts: { expectedId?: string; now: Date }): Problem[] {
  const out: Problem[] = [];
  if (!b.leaf.checkPrivateKey(b.key)) out.push({ check: 'key-match', message: 'private key does not match the certificate' });
  const top = b.intermediates.at(-1) ?? b.leaf;
  const root = b.roots.find((r) => top.checkIssued(r) && top.verify(r.publicKey));
  if (!root) out.push({ check: 'chain', message: `chain does not verify to any of the ${b.roots.length} trusted root(s)` });
  const uris = uriSans(b.leaf);
  if (opts.expectedId !== undefined && (uris.length !== 1 || uris[0] !== opts.expectedId)) {
    out.push({ check: 'spiffe-id', message: `URI SANs are [${uris.join(', ')}], expected exactly ${opts.expectedId}` });
  }
  if (opts.now < b.notBefore) out.push({ check: 'validity', message: `not valid before ${b.notBefore.toISOString()}` });
  if (opts.now >= b.notAfter) out.push({ check: 'validity', message: `expired at ${b.notAfter.toISOString()}` });
  return out;
}

/** Leaf then intermediates, as Istio's cert-chain.pem wants it. */
export function chainPem(b: Bundle): string {
  return [b.leaf, ...b.intermediates].map(toPem).join('');
}

export function rootsPem(b: Bundle): string {
  return b.roots.map(toPem).join('');
}
