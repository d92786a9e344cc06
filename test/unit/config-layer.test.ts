// The pieces item 20 of issue 10 made single: the defaults the three commands
// must agree on, the one trust rule over a mount's issuers, the one
// de-duplication of certificates, and the one key + CSR maker.

import { describe, expect, it } from 'vitest';
import 'reflect-metadata'; // @peculiar/x509's decorators need it first
import { Pkcs10CertificateRequest } from '@peculiar/x509';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { makeKeyAndCsr } from '../../src/certs/csr.ts';
import { uniqueCertificates } from '../../src/certs/pem.ts';
import { loadAgentConfig } from '../../src/config/agent-config.ts';
import { DEFAULTS } from '../../src/webhook/defaults.ts';
import { parseAnnotations } from '../../src/webhook/config.ts';
import { rootsOfIssuers } from '../../src/vault/roots.ts';
import { createCa } from '../../src/webhook/tls.ts';

describe('one set of defaults', () => {
  it('bootstrap creates by default exactly the mounts, roles and trust domain the agent and the injected agents use by default', async () => {
    const made = validateConfig({});
    const agent = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t' }, {});
    const injected = parseAnnotations({}, ['app'], { ...DEFAULTS, image: 'i', vaultAddr: 'https://vault:8200' });
    if (!injected.ok) throw new Error(injected.problems.join('; '));
    const expected = {
      authMount: made.kubernetesAuth.mount,
      authRole: made.kubernetesAuth.role.name,
      pkiMount: made.intermediate.mount,
      pkiRole: made.roles[0]!.name,
      trustDomain: made.trustDomain,
    };
    expect({ authMount: agent.auth.mount, authRole: agent.auth.role, pkiMount: agent.pki.mount, pkiRole: agent.pki.role, trustDomain: agent.identity.trustDomain }).toEqual(expected);
    expect(agent.pki.rootMount).toBe(made.root.mount);
    const i = injected.config;
    expect({ authMount: i.authMount, authRole: i.authRole, pkiMount: i.pkiMount, pkiRole: i.pkiRole, trustDomain: i.trustDomain }).toEqual(expected);
    expect([i.layout, i.mode, i.outDir]).toEqual([agent.output.layout, agent.pki.mode, agent.output.outDir]);
  });
});

describe('one rule for the roots a mount vouches for', () => {
  it('keeps each self-signed issuer once, in order, and drops retired ones and intermediates', async () => {
    const [a, b, retired] = await Promise.all(['a', 'b', 'old'].map((cn) => createCa({ commonName: cn, lifetimeMs: 3_600_000 })));
    const roots = rootsOfIssuers([
      { issuer_name: 'root-b', certificate: b!.certPem },
      { issuer_name: 'retired-root-1700000000', certificate: retired!.certPem },
      { certificate: a!.certPem },
      { issuer_name: 'root-b-again', certificate: b!.certPem },
    ]);
    expect(roots.map((r) => r.subject)).toEqual(['CN=b', 'CN=a']);
    expect(uniqueCertificates([...roots, ...roots].reverse()).map((r) => r.subject)).toEqual(['CN=a', 'CN=b']);
  });
});

describe('one key and CSR maker', () => {
  it('puts a common name, or a SPIFFE ID and DNS names, in a CSR signed by the returned key', async () => {
    const ca = await makeKeyAndCsr({ commonName: 'istiod plug-in intermediate CA' });
    const csr = new Pkcs10CertificateRequest(ca.csrPem);
    expect(csr.subject).toBe('CN=istiod plug-in intermediate CA');
    expect(await csr.verify()).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);

    const leaf = new Pkcs10CertificateRequest((await makeKeyAndCsr({ spiffeId: 'spiffe://cluster.local/ns/a/sa/b', dnsSans: ['b.a.svc'] })).csrPem);
    expect(leaf.subject).toBe('');
    const san = leaf.extensions.map((e) => e.toString('text')).join('\n');
    expect(san).toContain('spiffe://cluster.local/ns/a/sa/b');
    expect(san).toContain('b.a.svc');
  });

  it('gives every call a new key', async () => {
    const [x, y] = await Promise.all([makeKeyAndCsr({ commonName: 'x' }), makeKeyAndCsr({ commonName: 'x' })]);
    expect(x.keyPem).not.toBe(y.keyPem);
  });
});
