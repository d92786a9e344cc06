// Proof the test ground is real: a TokenRequest token from a real
// kube-apiserver logs in to a real Vault through TokenReview, and Vault's PKI
// engine issues a SPIFFE certificate that @peculiar/x509 parses and verifies.

import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl, reviewer, saToken, serviceAccount, stack, stackEnv, uniqueName, vault } from './context.ts';

const run = promisify(execFile);

describe('the test ground', () => {
  const ns = uniqueName('ground');
  const authMount = uniqueName('k8s');
  const pkiMount = uniqueName('pki');

  beforeAll(async () => {
    await serviceAccount(ns, 'app');
    await serviceAccount(ns, 'intruder');
    const r = await reviewer();
    await vault('POST', `sys/auth/${authMount}`, { type: 'kubernetes' });
    await vault('POST', `auth/${authMount}/config`, { kubernetes_host: r.host, kubernetes_ca_cert: r.caPem, token_reviewer_jwt: r.jwt, disable_local_ca_jwt: true });
    await vault('POST', `auth/${authMount}/role/app`, {
      bound_service_account_names: ['app'],
      bound_service_account_namespaces: [ns],
      audience: 'vault',
      token_ttl: '10m',
    });
  });

  it('runs the real Vault and kube-apiserver versions the recipes name', async () => {
    const s = stack();
    const { stdout: vaultVersion } = await run(s.vaultBin, ['version'], { env: stackEnv() });
    expect(vaultVersion).toContain(s.vaultVersion);
    const version = JSON.parse(await kubectl(['version', '-o', 'json']));
    expect(version.serverVersion.gitVersion).toBe(s.kubeVersion);
    console.log(`[ground] ${vaultVersion.trim()}; kube-apiserver ${version.serverVersion.gitVersion}`);
  });

  it('mints a service-account token with audience vault through the TokenRequest API', async () => {
    const jwt = await saToken(ns, 'app');
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
    expect(claims.aud).toEqual(['vault']);
    expect(claims['kubernetes.io'].namespace).toBe(ns);
    expect(claims['kubernetes.io'].serviceaccount.name).toBe('app');
  });

  it('logs in to Vault with that token and gets a Vault token whose metadata names the service account', async () => {
    const jwt = await saToken(ns, 'app');
    const res = await vault('POST', `auth/${authMount}/login`, { role: 'app', jwt }, '');
    expect(res.auth.metadata.service_account_name).toBe('app');
    expect(res.auth.metadata.service_account_namespace).toBe(ns);
  });

  it('denies a service account that the Vault role does not bind', async () => {
    const jwt = await saToken(ns, 'intruder');
    await expect(vault('POST', `auth/${authMount}/login`, { role: 'app', jwt }, '')).rejects.toMatchObject({ status: 403 });
  });

  it('denies a garbage JWT and a token for another audience', async () => {
    await expect(vault('POST', `auth/${authMount}/login`, { role: 'app', jwt: 'not.a.jwt' }, '')).rejects.toThrow();
    const wrongAudience = await saToken(ns, 'app', { audience: 'https://kubernetes.default.svc.cluster.local' });
    await expect(vault('POST', `auth/${authMount}/login`, { role: 'app', jwt: wrongAudience }, '')).rejects.toMatchObject({ status: 403 });
  });

  it('denies an expired token', async () => {
    // TokenRequest's minimum lifetime is 10 minutes, so "expired" is made the
    // honest way: a token whose service account was deleted and recreated is dead.
    const jwt = await saToken(ns, 'app');
    await kubectl(['-n', ns, 'delete', 'serviceaccount', 'app']);
    await kubectl(['-n', ns, 'create', 'serviceaccount', 'app']);
    await expect(vault('POST', `auth/${authMount}/login`, { role: 'app', jwt }, '')).rejects.toMatchObject({ status: 403 });
  });

  it('issues a certificate with a SPIFFE URI SAN from a real PKI mount, verified with @peculiar/x509', async () => {
    await vault('POST', `sys/mounts/${pkiMount}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
    const root = await vault('POST', `${pkiMount}/root/generate/internal`, { common_name: 'ground root', ttl: '87600h', key_type: 'ec', key_bits: 256 });
    await vault('POST', `${pkiMount}/roles/spiffe`, { allow_any_name: true, require_cn: false, allowed_uri_sans: ['spiffe://cluster.local/*'], key_type: 'ec', key_bits: 256 });
    const id = `spiffe://cluster.local/ns/${ns}/sa/app`;
    const issued = await vault('POST', `${pkiMount}/issue/spiffe`, { uri_sans: id, ttl: '1h' });
    const leaf = new x509.X509Certificate(issued.data.certificate);
    const ca = new x509.X509Certificate(root.data.certificate);
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.names.items.map((n) => n.toJSON())).toEqual([{ type: 'url', value: id }]);
    expect(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(leaf.issuer).toBe(ca.subject);
  });
});
