// The agent re-checks what Vault issued before writing it: exactly one URI
// SAN, the SPIFFE ID of the pod's own service account. A correctly configured
// Vault cannot be made to answer otherwise, so the answer is swapped in the
// agent's own obtain step (in-process): a real certificate, issued by the real
// Vault through a second, permissive role, for another identity or with a
// second URI SAN. The result must be refused, and nothing returned to write.

import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.ts';
import type { Issued, VaultPki } from '../../src/vault/pki.ts';
import { obtain } from '../../src/renewal/obtain.ts';
import { vault } from '../ground/context.ts';
import { meshPki, type MeshPki } from './fixture.ts';

let m: MeshPki;
beforeAll(async () => {
  m = await meshPki();
  // Not the mesh role: any spiffe:// URI, for the root token (the fixture's role binds the caller's own ID).
  await vault('POST', `${m.pkiMount}/roles/any-spiffe`, { allowed_uri_sans: ['spiffe://*'], allow_any_name: true, require_cn: false, key_type: 'ec', key_bits: 256, ttl: '1h', max_ttl: '1h' });
});

/** Vault's real answer for these URI SANs, as the agent's PKI client would hand it over. */
async function issuedFor(uriSans: string[]): Promise<Issued> {
  const d = (await vault('POST', `${m.pkiMount}/issue/any-spiffe`, { uri_sans: uriSans.join(','), ttl: '1h', format: 'pem' })).data;
  return { certificate: d.certificate, caChain: d.ca_chain ?? [d.issuing_ca], privateKey: d.private_key, serial: d.serial_number };
}

/** The agent's obtain step for the fixture's service account ("web"), with Vault's answer replaced by `answer`. */
async function obtainWith(answer: Issued) {
  const jwt = (await readFile(m.tokenFile, 'utf8')).trim();
  const pki: VaultPki = { issue: async () => answer, sign: async () => answer };
  return obtain({
    pki,
    tokenSource: { path: m.tokenFile, read: async () => jwt },
    mode: 'issue',
    trustDomain: 'cluster.local',
    dnsSans: [],
    ttlSeconds: 3600,
    extraRoots: async () => '',
    now: () => new Date(),
  });
}

describe('the issued certificate is checked before it is written', () => {
  it("accepts Vault's answer for the pod's own SPIFFE ID (the control case)", async () => {
    const b = await obtainWith(await issuedFor([m.spiffeId]));
    expect(b.spiffeId).toBe(m.spiffeId);
  });

  it('refuses a certificate for another service account', async () => {
    const other = `spiffe://cluster.local/ns/${m.ns}/sa/db`;
    const err = await obtainWith(await issuedFor([other])).catch((e: unknown) => e);
    expect(isAgentError(err, 'CERT_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toContain(other);
  });

  it('refuses a certificate with a second URI SAN besides its own', async () => {
    const err = await obtainWith(await issuedFor([m.spiffeId, `spiffe://cluster.local/ns/${m.ns}/sa/db`])).catch((e: unknown) => e);
    expect(isAgentError(err, 'CERT_INVALID'), String(err)).toBe(true);
    expect((err as Error).message).toContain(`URI SANs are [${m.spiffeId}, spiffe://cluster.local/ns/${m.ns}/sa/db], expected exactly ${m.spiffeId}`);
  });
});
