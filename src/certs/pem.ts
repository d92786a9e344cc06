// PEM blocks in, typed pieces out. Parsing uses Node's own X509Certificate
// and KeyObject: no ASN.1 library on the sidecar's path.

import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';

/** A BEGIN or END line; the label is bounded so a marker is matched in constant time. */
const MARKER = /-----(BEGIN|END) ([A-Z0-9 ]{1,64})-----/g;

export interface PemBlock {
  type: string;
  pem: string;
}

/**
 * Every `BEGIN X … END X` block, in one pass over the markers: a BEGIN with no
 * later END of its type is skipped, as is anything between blocks. Linear in
 * the text (a lazy regex across blocks was quadratic on many BEGIN lines).
 */
export function pemBlocks(text: string): PemBlock[] {
  const markers = [...text.matchAll(MARKER)].map((m) => ({ begin: m[1] === 'BEGIN', type: m[2]!, start: m.index, end: m.index + m[0].length }));
  // Per label, the END markers in order, and how far each list has been consumed.
  const ends = new Map<string, number[]>();
  markers.forEach((m, i) => {
    if (m.begin) return;
    const list = ends.get(m.type) ?? [];
    list.push(i);
    ends.set(m.type, list);
  });
  const next = new Map<string, number>();
  const out: PemBlock[] = [];
  for (let i = 0; i < markers.length; i++) {
    const m = markers[i]!;
    if (!m.begin) continue;
    const list = ends.get(m.type) ?? [];
    let k = next.get(m.type) ?? 0;
    while (k < list.length && list[k]! <= i) k++;
    next.set(m.type, k);
    if (k === list.length) continue;
    const close = markers[list[k]!]!;
    out.push({ type: m.type, pem: text.slice(m.start, close.end) + '\n' });
    i = list[k]!;
  }
  return out;
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

/** Each certificate once (same SHA-256 fingerprint = same certificate), in order of first appearance. */
export function uniqueCertificates(certs: readonly X509Certificate[]): X509Certificate[] {
  const seen = new Set<string>();
  return certs.filter((c) => !seen.has(c.fingerprint256) && Boolean(seen.add(c.fingerprint256)));
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
