// A fresh EC P-256 key made in this process and a CSR carrying only its public
// half: the agent's sign mode (SPIFFE ID and DNS names as SANs) and bootstrap's
// CAs whose key leaves Vault's reach (istiod's plug-in CA, Linkerd's issuer: a
// common name). On the agent's path @peculiar/x509 loads here only, so issue
// mode never pays for it.

import { createPrivateKey, webcrypto } from 'node:crypto';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function makeKeyAndCsr(opts: { commonName?: string; spiffeId?: string; dnsSans?: readonly string[] }): Promise<KeyAndCsr> {
  await import('reflect-metadata'); // @peculiar/x509's decorators need it first
  const x509 = await import('@peculiar/x509');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names = [
    ...(opts.spiffeId ? [{ type: 'url' as const, value: opts.spiffeId }] : []),
    ...(opts.dnsSans ?? []).map((d) => ({ type: 'dns' as const, value: d })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(opts.commonName ? { name: `CN=${opts.commonName}` } : {}),
    keys,
    signingAlgorithm: alg,
    extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
  return { keyPem, csrPem: csr.toString('pem') };
}
