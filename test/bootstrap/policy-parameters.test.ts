// The workload policy's allowed_parameters against the real Vault: the
// agent's own requests (its real issue/sign code, issue and sign mode, with
// and without DNS SANs) pass; any request field the agent does not send, or a
// fixed field with another value, is refused with 403 by the ACL — not_after
// above all, which this Vault may honour past the role's max_ttl
// (hashicorp/vault#29928). Names are unique to this file.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { notAfterFlaw } from '../../src/bootstrap/vault-version.ts';
import { obtain } from '../../src/renewal/obtain.ts';
import { kubernetesLogin } from '../../src/vault/auth.ts';
import { createVaultClient } from '../../src/vault/client.ts';
import { vaultPki } from '../../src/vault/pki.ts';
import { saToken, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, statusOf, workloadLogin, type Names, type Run } from './helpers.ts';

const target = devVault();
const ns = uniqueName('bs-param');
const spiffe = `spiffe://cluster.local/ns/${ns}/sa/app`;
const HOUR = 3600_000;
let config: BootstrapConfig;
let names: Names;
let first: Run;
let jwt: string;
let token: string;
let rootPem: string;

beforeAll(async () => {
  await serviceAccount(ns, 'app');
  // the DNS SAN opt-in, so the agent's requests with DNS SANs can pass too
  ({ config, names } = await isolatedConfig([ns], () => ({ roles: [{ name: 'istio-workload', allowNamespaceDnsSans: true }] })));
  first = await bootstrap(target, config);
  jwt = await saToken(ns, 'app');
  token = await workloadLogin(target, names.auth, jwt);
  rootPem = (await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate;
}, 180_000);

/** The agent's issuance path as `init`/`run` drive it: a real login, the real request bodies. */
function agentObtain(mode: 'issue' | 'sign', dnsSans: string[]) {
  const vault = createVaultClient({ address: target.addr, caPem: target.caPem });
  const tokenSource = { path: 'test service account token', read: async () => jwt };
  const login = kubernetesLogin({ vault, mount: names.auth, role: 'mesh-workload', tokenSource });
  const pki = vaultPki({ vault, login, mount: names.int, role: 'istio-workload' });
  return obtain({ pki, tokenSource, mode, trustDomain: 'cluster.local', dnsSans, ttlSeconds: 3600, extraRoots: async () => rootPem, now: () => new Date() });
}

// What src/vault/pki.ts sends, so each refusal below is the added field's doing.
const agentIssue = { uri_sans: spiffe, ttl: '3600s', format: 'pem', exclude_cn_from_sans: true, private_key_format: 'pkcs8' };
const issueAs = (body: Record<string, unknown>, t = token) => call(target, 'POST', `${names.int}/issue/istio-workload`, body, t);
const fiveYears = () => new Date(Date.now() + 5 * 365 * 24 * HOUR).toISOString().replace(/\.\d+Z$/, 'Z');

describe('the workload policy allows only the request fields the agent sends', () => {
  it.each([
    ['issue', []],
    ['issue', ['web']],
    ['sign', []],
    ['sign', ['web']],
  ] as const)('the agent in %s mode with DNS SANs %j gets its certificate', async (mode, svc) => {
    const dnsSans = svc.map((s) => `${s}.${ns}.svc`);
    const bundle = await agentObtain(mode, dnsSans);
    expect(bundle.spiffeId).toBe(spiffe);
    expect(bundle.leaf.subjectAltName?.split(', ').sort()).toEqual([...dnsSans.map((d) => `DNS:${d}`), `URI:${spiffe}`].sort());
  }, 60_000);

  it('a workload token asking for not_after five years out is refused with 403, with or without the rest of the agent\'s fields', async () => {
    expect(await statusOf(issueAs(agentIssue))).toBe(200);
    expect(await statusOf(issueAs({ ...agentIssue, not_after: fiveYears() }))).toBe(403);
    expect(await statusOf(issueAs({ uri_sans: spiffe, not_after: fiveYears() }))).toBe(403);
  });

  it.each([
    ['ip_sans', '10.0.0.1'],
    ['other_sans', '1.3.6.1.4.1.311.20.2.3;utf8:admin@example.com'],
    ['exclude_cn_from_sans', false],
    ['private_key_format', 'der'],
    ['format', 'pem_bundle'],
    ['common_name', `web.${ns}.svc`],
    ['issuer_ref', 'default'],
    ['user_ids', '0'],
    ['remove_roots_from_chain', true],
  ])('on issue, %s=%j is refused with 403', async (field, value) => {
    expect(await statusOf(issueAs({ ...agentIssue, [field]: value }))).toBe(403);
  });

  it('on sign, not_after, ip_sans and private_key_format are refused with 403 while the agent\'s CSR request passes', async () => {
    const { makeKeyAndCsr } = await import('../../src/certs/csr.ts');
    const { csrPem } = await makeKeyAndCsr({ spiffeId: spiffe, dnsSans: [] });
    const agentSign = { uri_sans: spiffe, ttl: '3600s', format: 'pem', exclude_cn_from_sans: true, csr: csrPem };
    const sign = (extra: Record<string, unknown>) => call(target, 'POST', `${names.int}/sign/istio-workload`, { ...agentSign, ...extra }, token);
    expect(await statusOf(sign({}))).toBe(200);
    expect(await statusOf(sign({ not_after: fiveYears() }))).toBe(403);
    expect(await statusOf(sign({ ip_sans: '10.0.0.1' }))).toBe(403);
    expect(await statusOf(sign({ private_key_format: 'pkcs8' }))).toBe(403);
  });

  it('ttl stays open in the ACL, and a ttl of five years still ends at the role\'s max_ttl', async () => {
    const res = await issueAs({ ...agentIssue, ttl: '43800h' });
    const leaf = new X509Certificate(res.data.certificate);
    const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    // Vault back-dates notBefore by 30 s (not_before_duration); nothing else widens it
    expect(lifetime).toBeLessThanOrEqual(config.roles[0]!.maxTtl * 1000 + 30_000);
  });
});

describe('the Vault version in the plan', () => {
  it('this Vault honours not_after past max_ttl exactly when the version rule says so, and the plan warns exactly then', async () => {
    const version = (await call(target, 'GET', 'sys/seal-status')).version as string;
    // the flaw itself, through the root token (no ACL) on a throwaway role with a 72 h max_ttl
    const role = `${names.int}/roles/flaw-probe-${names.id}`;
    await call(target, 'POST', role, { allow_any_name: true, enforce_hostnames: false, key_type: 'ec', max_ttl: '72h', no_store: true });
    const notAfter = new Date(Date.now() + 30 * 24 * HOUR).toISOString().replace(/\.\d+Z$/, 'Z');
    const res = await call(target, 'POST', `${names.int}/issue/flaw-probe-${names.id}`, { common_name: 'probe.example', not_after: notAfter });
    const honoured = Date.parse(new X509Certificate(res.data.certificate).validTo) > Date.now() + 72 * HOUR + 60_000;
    expect(honoured).toBe(notAfterFlaw(version) === 'affected');

    const policyLine = first.lines.find((l) => l.startsWith(`+ policy ${names.policy}`));
    expect(policyLine).toContain(`Vault ${version}`);
    expect(policyLine?.includes('WARNING')).toBe(notAfterFlaw(version) === 'affected');
    console.log(`plan line on this Vault: ${policyLine}`);
  });
});
