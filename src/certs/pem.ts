// PEM blocks in, typed pieces out. Parsing uses Node's own X509Certificate
// and KeyObject: no ASN.1 library on the sidecar's path.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

export interface PemBlock {
  type: string;
  pem: string;
}

export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(BLOCK)].map((m) => ({ type: m[1]!, pem: m[0] + '\n' }));
}

export function certificates(text: string): X509Certificate[] {
  return pemBlocks(text)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => new X509Certificate(b.pem));
}

export function privateKeys(text: string): { pem: string; key: KeyObject }[] {
  return pemBlocks(text)
    .filter((b) => /PRIVATE KEY$/.test(b.type))
    .map((b) => ({ pem: b.pem, key: createPrivateKey(b.pem) }));
}

export function isSelfSigned(cert: X509Certificate): boolean {
  return cert.subject === cert.issuer && cert.verify(cert.publicKey);
}

/** URI SANs of a certificate, in order. */
export function uriSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice(4));
}

export function dnsSans(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

export function toPem(cert: X509Certificate): string {
  return cert.toString().trimEnd() + '\n';
}
