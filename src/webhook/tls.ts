// The webhook's own small PKI: an in-memory CA and serving certificates it
// signs (ECDSA P-256). Keys never leave the process; only the CA certificate
// is published (as the MutatingWebhookConfiguration's caBundle).

import 'reflect-metadata';
import { webcrypto, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import * as x509 from '@peculiar/x509';
import { pemBlocks, uniqueCertificates } from '../certs/pem.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Tolerated clock skew between us and the apiserver. */
const BACKDATE_MS = 60_000;

export interface CertKey {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface Ca extends CertKey {
  cert: x509.X509Certificate;
  key: webcrypto.CryptoKey;
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

export async function createCa(opts: { commonName: string; lifetimeMs: number; now?: Date }): Promise<Ca> {
  const now = opts.now ?? new Date();
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${opts.commonName}`,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + opts.lifetimeMs),
    signingAlgorithm: ALG,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { cert, key: keys.privateKey, certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey), notAfter: cert.notAfter };
}

/** A serving certificate for `hosts` (DNS names or IP addresses), valid no longer than its CA. */
export async function issueServing(ca: Ca, opts: { hosts: readonly string[]; lifetimeMs: number; now?: Date }): Promise<CertKey> {
  const now = opts.now ?? new Date();
  const keys = await keyPair();
  const notAfter = new Date(Math.min(now.getTime() + opts.lifetimeMs, ca.notAfter.getTime()));
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${opts.hosts[0] ?? 'vault-pki-agent-webhook'}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey as never,
    signingKey: ca.key as never,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(opts.hosts.map((h) => ({ type: isIP(h) ? 'ip' : 'dns', value: h }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert as never),
    ],
  });
  // X.509 times have whole seconds: report the notAfter the certificate really has.
  return { certPem: cert.toString('pem'), keyPem: await keyPem(keys.privateKey), notAfter: cert.notAfter };
}

/** Splits a PEM bundle into certificates; unparsable blocks are dropped. */
export function splitBundle(pem: string): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const { type, pem: block } of pemBlocks(pem)) {
    if (type !== 'CERTIFICATE') continue;
    try {
      out.push(new X509Certificate(block));
    } catch {
      // a foreign, broken entry in someone's bundle: not ours to keep
    }
  }
  return out;
}

/**
 * The bundle to publish: what is there now (other replicas' CAs, a previous
 * CA of ours) plus `add`, without expired or duplicate certificates.
 */
export function mergeBundle(current: string, add: readonly string[], now: Date = new Date()): string {
  const live = [...splitBundle(current), ...add.flatMap((p) => splitBundle(p))].filter((c) => new Date(c.validTo).getTime() > now.getTime());
  return uniqueCertificates(live)
    .map((c) => c.toString().trim())
    .join('\n') + '\n';
}
