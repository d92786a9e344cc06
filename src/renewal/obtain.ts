// One issuance, start to finish, with nothing written: read the token's
// claims, ask Vault (issue, or sign a CSR made here), and assemble a Bundle
// that has passed every check. The caller writes it only if this resolves.

import { AgentError } from '../errors.ts';
import { assembleBundle, problems, type Bundle } from '../certs/bundle.ts';
import { decodeClaims, spiffeId, type TokenSource } from '../identity/token.ts';
import type { VaultPki } from '../vault/pki.ts';

export interface ObtainOptions {
  pki: VaultPki;
  tokenSource: TokenSource;
  mode: 'issue' | 'sign';
  trustDomain: string;
  dnsSans: string[];
  ttlSeconds: number;
  /** PEM of the roots Vault vouches for now (src/vault/roots.ts); '' when it cannot tell */
  extraRoots: () => Promise<string>;
  now: () => Date;
}

export async function expectedSpiffeId(o: Pick<ObtainOptions, 'tokenSource' | 'trustDomain'>): Promise<string> {
  return spiffeId(o.trustDomain, decodeClaims(await o.tokenSource.read(), o.tokenSource.path));
}

export async function obtain(o: ObtainOptions): Promise<Bundle> {
  const id = await expectedSpiffeId(o);
  // Independent of the issuance: fetched alongside it, not after it.
  const roots = o.extraRoots();
  roots.catch(() => undefined);
  const request = { uriSans: [id], dnsSans: o.dnsSans, ttlSeconds: o.ttlSeconds };
  let keyPem: string;
  let issued;
  if (o.mode === 'sign') {
    const { makeKeyAndCsr } = await import('../certs/csr.ts');
    const made = await makeKeyAndCsr({ spiffeId: id, dnsSans: o.dnsSans });
    keyPem = made.keyPem;
    issued = await o.pki.sign({ ...request, csrPem: made.csrPem });
  } else {
    issued = await o.pki.issue(request);
    if (!issued.privateKey) throw new AgentError('CERT_INVALID', 'Vault issued a certificate without a private key');
    keyPem = issued.privateKey;
  }
  // The same rule as a reuse at restart (agent.ts): a chain Vault does not vouch
  // for now is refused here too, rather than written and re-issued at every start.
  const bundle = assembleBundle({
    pemText: [issued.certificate, ...issued.caChain, keyPem].join('\n'),
    trustedRoots: await roots,
  });
  const found = problems(bundle, { expectedId: id, now: o.now() });
  if (found.length) {
    const hint = found.some((p) => p.check === 'chain') ? ' (trusted: the issuers of --root-mount and the root of --pki-mount\'s default issuer)' : '';
    throw new AgentError('CERT_INVALID', `refusing the certificate Vault issued (serial ${issued.serial}): ${found.map((p) => p.message).join('; ')}${hint}`);
  }
  return bundle;
}
