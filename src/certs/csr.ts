// sign mode: an EC P-256 key made in this process and a CSR carrying only the
// public half. @peculiar/x509 is loaded here and nowhere else, so issue mode
// never pays for it.

import { webcrypto } from 'node:crypto';

export interface KeyAndCsr {
  keyPem: string;
  csrPem: string;
}

export async function makeKeyAndCsr(opts: { spiffeId: string; dnsSans: string[] }): Promise<KeyAndCsr> {
  await import('reflect-metadata'); // @peculiar/x509's decorators need it first
  const x509 = await import('@peculiar/x509');
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const names = [{ type: 'url' as const, value: opts.spiffeId }, ...opts.dnsSans.map((d) => ({ type: 'dns' as const, value: d }))];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension(names)],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${pkcs8.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  return { keyPem, csrPem: csr.toString('pem') };
}
