// What Linkerd accepts from an external issuer, as pure checks over PEM text:
// the names it mounts, the one curve and signature it allows, the key form it
// parses. Sources for each rule are listed in docs/bootstrap.md ("Linkerd").

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { pemBlocks } from '../../certs/pem.ts';
import type { BootstrapConfig } from '../config.ts';
import { splitPem } from '../pem.ts';

/** Linkerd's chart mounts these by name (identity.externalCA=true, issuer scheme kubernetes.io/tls). */
export const TRUST_ROOTS_CONFIGMAP = 'linkerd-identity-trust-roots';
export const TRUST_ROOTS_KEY = 'ca-bundle.crt';
export const ISSUER_SECRET = 'linkerd-identity-issuer';
export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

/** identity.<namespace>.<trust domain>: the name Linkerd's identity controller gives its issuer. */
export function issuerName(config: BootstrapConfig): string {
  return `identity.${config.linkerd.namespace}.${config.linkerd.trustDomain ?? config.clusterDomain}`;
}

/**
 * Why `linkerd check` would refuse `cert` as a trust anchor or issuer, or
 * undefined: it allows only an ECDSA P-256 key signed with ECDSA/SHA-256.
 */
export function algorithmProblem(cert: X509Certificate): string | undefined {
  const key = cert.publicKey;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') return `key is ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''}, not ECDSA P-256`;
  if (cert.signatureAlgorithm !== 'ecdsa-with-SHA256') return `signature is ${cert.signatureAlgorithm}, not ECDSA with SHA-256`;
  return undefined;
}

/** True when every certificate in `bundle` is one of `roots` (so replacing it drops no foreign anchor). */
export function onlyOurAnchors(bundle: string | undefined, roots: string): boolean {
  const ours = new Set(splitPem(roots).map((p) => new X509Certificate(p).fingerprint256));
  try {
    const theirs = splitPem(bundle ?? '');
    return theirs.length > 0 && theirs.every((p) => ours.has(new X509Certificate(p).fingerprint256));
  } catch {
    return false;
  }
}

/** True when `certPem` parses and is signed by one of `roots`. */
export function chainsTo(certPem: string | undefined, roots: string): boolean {
  try {
    const cert = new X509Certificate(certPem ?? '');
    return splitPem(roots).some((r) => cert.verify(new X509Certificate(r).publicKey));
  } catch {
    return false;
  }
}

export interface IssuerExpectations {
  roots: string;
  /** the root mount's default issuer: after a root switch the issuer must move under it */
  signer: string | undefined;
  name: string;
  renewBefore: number;
  now: number;
}

/** Why the Secret's issuer must be re-issued, or undefined when Linkerd can keep using it. */
export function staleReason(data: Record<string, string>, want: IssuerExpectations): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(data['tls.crt'] ?? '');
    if (!cert.checkPrivateKey(createPrivateKey(data['tls.key'] ?? ''))) return 'tls.key does not match tls.crt';
  } catch {
    return 'tls.crt/tls.key unreadable';
  }
  // Linkerd parses only SEC1 ("EC PRIVATE KEY") or PKCS#1 keys, not PKCS#8.
  if (pemBlocks(data['tls.key'] ?? '')[0]?.type !== 'EC PRIVATE KEY') return 'tls.key is not an "EC PRIVATE KEY" PEM';
  if (!chainsTo(data['tls.crt'], want.roots)) return 'tls.crt is not signed by a current root';
  if (want.signer && !cert.verify(new X509Certificate(want.signer).publicKey)) return "tls.crt is not signed by the root mount's default issuer";
  const algo = algorithmProblem(cert);
  if (algo) return `tls.crt ${algo}`;
  if (!cert.ca) return 'tls.crt is not a CA certificate';
  if (!cert.subject.split('\n').includes(`CN=${want.name}`)) return `tls.crt is not named ${want.name}`;
  const from = cert.validFromDate.getTime();
  const to = cert.validToDate.getTime();
  if (to - want.now < (to - from) * want.renewBefore) return `due for renewal (less than ${Math.round(want.renewBefore * 100)}% of its lifetime left)`;
  return undefined;
}
