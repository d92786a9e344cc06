// The webhook's own PKI: serving certificates chain to their CA, and the
// caBundle merge keeps other replicas' CAs while dropping expired and duplicate ones.
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, issueServing, mergeBundle, splitBundle } from '../../src/webhook/tls.ts';

describe('webhook TLS', () => {
  it('issues a serving certificate for DNS names and IPs that verifies against its CA and never outlives it', async () => {
    const ca = await createCa({ commonName: 'test CA', lifetimeMs: 60_000 });
    const serving = await issueServing(ca, { hosts: ['vpa-webhook.vpa.svc', '127.0.0.1'], lifetimeMs: 3_600_000 });
    const cert = new X509Certificate(serving.certPem);
    expect(cert.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe('DNS:vpa-webhook.vpa.svc, IP Address:127.0.0.1');
    expect(cert.checkPrivateKey((await import('node:crypto')).createPrivateKey(serving.keyPem))).toBe(true);
    expect(new Date(cert.validTo).getTime()).toBeLessThanOrEqual(ca.notAfter.getTime());
    expect(serving.notAfter.getTime()).toBe(new Date(cert.validTo).getTime());
  });

  it("merges a replica's CA into the bundle, keeping the others' and dropping expired and duplicate ones", async () => {
    const [a, b] = [await createCa({ commonName: 'replica a', lifetimeMs: 60_000 }), await createCa({ commonName: 'replica b', lifetimeMs: 60_000 })];
    const expired = await createCa({ commonName: 'gone', lifetimeMs: 1_000, now: new Date(Date.now() - 3_600_000) });
    const bundle = mergeBundle(`${a.certPem}\n${expired.certPem}\ngarbage`, [b.certPem, a.certPem]);
    expect(splitBundle(bundle).map((c) => c.subject)).toEqual(['CN=replica a', 'CN=replica b']);
    expect(mergeBundle(bundle, [a.certPem])).toBe(bundle); // nothing new: same text, so no write
  });
});
