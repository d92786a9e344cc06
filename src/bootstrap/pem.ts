// PEM helpers on node:crypto (no x509 library needed): split bundles, tell
// roots from intermediates, check that a chain links up.

import { X509Certificate } from 'node:crypto';
import { isSelfSigned as certIsSelfSigned, pemBlocks } from '../certs/pem.ts';

export function splitPem(text: string): string[] {
  return pemBlocks(text)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => b.pem.trim());
}

export function isSelfSigned(pem: string): boolean {
  return certIsSelfSigned(new X509Certificate(pem));
}

/**
 * Why `chain` (leaf/intermediate first, root last) does not link up, or
 * undefined when each certificate is signed by the next and the last is a root.
 */
export function chainProblem(pems: string[]): string | undefined {
  if (pems.length < 2) return `expected the signed intermediate followed by its root, found ${pems.length} certificate(s)`;
  const certs = pems.map((p) => new X509Certificate(p));
  for (let i = 0; i + 1 < certs.length; i++) {
    if (!certs[i]!.verify(certs[i + 1]!.publicKey)) return `certificate ${i + 1} (${certs[i]!.subject}) is not signed by certificate ${i + 2}`;
  }
  if (!isSelfSigned(pems.at(-1)!)) return 'the last certificate is not a self-signed root';
  if (!certs[0]!.ca) return 'the first certificate is not a CA certificate';
  return undefined;
}

export function notAfter(pem: string): Date {
  return new Date(new X509Certificate(pem).validTo);
}
