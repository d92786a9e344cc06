// Bootstrap against the real dev Vault and kube-apiserver, then use what it
// made as a workload would: log in with a TokenRequest JWT, issue, verify the
// chain with openssl, and probe what Vault refuses (identity binding, least
// privilege). Mounts, auth and policy names are unique to this file.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { kubectl, saToken, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, planLines, statusOf, testKube, workloadLogin, type Names, type Run } from './helpers.ts';

const target = devVault();
const nsA = uniqueName('bs-a');
const nsB = uniqueName('bs-b');
const label = `bs-${uniqueName('l')}`;
let config: BootstrapConfig;
let names: Names;
let first: Run;
let tokenA: string;

const spiffe = (ns: string, sa: string) => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
const issue = (body: Record<string, unknown>, token = tokenA) =>
  call(target, 'POST', `${names.int}/issue/istio-workload`, { ttl: '1h', format: 'pem', exclude_cn_from_sans: true, ...body }, token);

beforeAll(async () => {
  await Promise.all([serviceAccount(nsA, 'app-a'), serviceAccount(nsB, 'app-b')]);
  await kubectl(['label', 'namespace', nsA, nsB, `vault-pki-agent.io/test=${label}`]);
  ({ config, names } = await isolatedConfig([nsA, nsB], () => ({
    // the documented opt-in: the DNS SAN test below holds it to the caller's namespace
    roles: [{ name: 'istio-workload', allowNamespaceDnsSans: true }],
    trustBundle: { enabled: true, namespaceSelector: `vault-pki-agent.io/test=${label}` },
    istiodCa: { enabled: true, namespace: nsB },
  })));
  first = await bootstrap(target, config);
  tokenA = await workloadLogin(target, names.auth, await saToken(nsA, 'app-a'));
});

describe('bootstrap on an empty Vault, used by a workload', () => {
  it('plans every step as a creation, applies each with a progress line, and never prints a secret', () => {
    const plan = planLines(first.lines);
    expect(plan.length).toBeGreaterThan(10);
    expect(plan.every((l) => l.startsWith('+ '))).toBe(true);
    expect(first.lines.filter((l) => /^\[\d+\/\d+\] \+ .*: done in \d+ ms/.test(l))).toHaveLength(plan.length);
    const all = first.lines.join('\n');
    expect(all).not.toMatch(/PRIVATE KEY|eyJ[\w-]{10,}\.|hvs\.|root-[0-9a-f]{24}/);
  });

  it('a service account token logs in and issues a certificate whose chain verifies leaf → intermediate → root with openssl', async () => {
    const res = await issue({ uri_sans: spiffe(nsA, 'app-a') });
    const { certificate, ca_chain } = res.data as { certificate: string; ca_chain: string[] };
    expect(ca_chain).toHaveLength(2);
    const [intermediate, root] = ca_chain as [string, string];
    expect(new X509Certificate(root).subject).toBe(new X509Certificate(root).issuer);
    await writeFile(join(names.dir, 'leaf.pem'), certificate);
    await writeFile(join(names.dir, 'int.pem'), intermediate);
    await writeFile(join(names.dir, 'root.pem'), root);
    expect(await openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'int.pem', 'leaf.pem'], names.dir)).toMatch(/leaf.pem: OK/);
    expect(await openssl(['verify', '-purpose', 'sslserver', '-CAfile', 'root.pem', '-untrusted', 'int.pem', 'leaf.pem'], names.dir)).toMatch(/OK/);
    const leaf = new X509Certificate(certificate);
    expect(leaf.subjectAltName).toBe(`URI:${spiffe(nsA, 'app-a')}`);
    expect(leaf.publicKey.asymmetricKeyDetails).toMatchObject({ namedCurve: 'prime256v1' });
  });

  it('the intermediate is a CA with path length 0 and the root is the only trust anchor published', async () => {
    const pem = (await call(target, 'GET', `${names.int}/issuer/default/json`)).data.certificate as string;
    await writeFile(join(names.dir, 'int-only.pem'), pem);
    expect(await openssl(['x509', '-in', 'int-only.pem', '-noout', '-text'], names.dir)).toMatch(/CA:TRUE, pathlen:0/);
    const cm = await (await testKube()).readConfigMap(nsA, 'vault-pki-agent-trust-bundle');
    const rootPem = (await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate as string;
    expect(cm?.data['root-cert.pem']?.trim()).toBe(rootPem.trim());
  });

  it('Vault denies service account A the URI SAN of service account B', async () => {
    expect(await statusOf(issue({ uri_sans: spiffe(nsB, 'app-b') }))).toBe(400);
    expect(await statusOf(issue({ uri_sans: spiffe(nsA, 'app-b') }))).toBe(400);
    expect(await statusOf(issue({ uri_sans: `${spiffe(nsA, 'app-a')},${spiffe(nsB, 'app-b')}` }))).toBe(400);
  });

  it('Vault allows DNS names in the caller\'s namespace and denies them in another one', async () => {
    expect(await statusOf(issue({ uri_sans: spiffe(nsA, 'app-a'), alt_names: `web.${nsA}.svc,web.${nsA}.svc.cluster.local` }))).toBe(200);
    expect(await statusOf(issue({ uri_sans: spiffe(nsA, 'app-a'), alt_names: `web.${nsB}.svc` }))).toBe(400);
    expect(await statusOf(issue({ uri_sans: spiffe(nsA, 'app-a'), alt_names: 'localhost' }))).toBe(400);
    // a CN is refused earlier, by the policy's allowed_parameters (the agent never sends one)
    expect(await statusOf(issue({ uri_sans: spiffe(nsA, 'app-a'), common_name: 'example.com' }))).toBe(403);
  });

  it('in sign mode the CSR\'s own SANs are ignored: only the requested, bound URI SAN is issued', async () => {
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'k.pem', '-out', 'csr.pem', '-subj', '/CN=evil', '-addext', `subjectAltName=URI:${spiffe(nsB, 'app-b')}`], names.dir);
    const csr = await import('node:fs/promises').then((f) => f.readFile(join(names.dir, 'csr.pem'), 'utf8'));
    const res = await call(target, 'POST', `${names.int}/sign/istio-workload`, { csr, uri_sans: spiffe(nsA, 'app-a'), ttl: '1h', format: 'pem', exclude_cn_from_sans: true }, tokenA);
    const leaf = new X509Certificate(res.data.certificate);
    expect(leaf.subjectAltName).toBe(`URI:${spiffe(nsA, 'app-a')}`);
    expect(leaf.subject ?? '').not.toMatch(/evil/);
  });

  it('the workload token cannot sign on another role, read the root or its keys, or touch any other path', async () => {
    await call(target, 'POST', `${names.int}/roles/other`, { allow_any_name: true, allowed_uri_sans: ['*'] });
    const denied = [
      statusOf(call(target, 'POST', `${names.int}/issue/other`, { common_name: 'x.example', uri_sans: spiffe(nsA, 'app-a') }, tokenA)),
      statusOf(call(target, 'POST', `${names.int}/sign/other`, { csr: 'x' }, tokenA)),
      statusOf(call(target, 'GET', `${names.root}/issuer/default`, undefined, tokenA)),
      statusOf(call(target, 'GET', `${names.root}/keys?list=true`, undefined, tokenA)),
      statusOf(call(target, 'POST', `${names.root}/root/sign-intermediate`, { csr: 'x' }, tokenA)),
      statusOf(call(target, 'POST', `${names.root}/issue/istio-workload`, {}, tokenA)),
      statusOf(call(target, 'GET', `${names.int}/roles/istio-workload`, undefined, tokenA)),
      statusOf(call(target, 'POST', `${names.int}/roles/istio-workload`, { allow_any_name: true }, tokenA)),
      statusOf(call(target, 'POST', `${names.int}/revoke`, { serial_number: '00' }, tokenA)),
      statusOf(call(target, 'GET', 'sys/mounts', undefined, tokenA)),
      statusOf(call(target, 'GET', `sys/policies/acl/${names.policy}`, undefined, tokenA)),
      statusOf(call(target, 'GET', 'auth/token/lookup-self', undefined, tokenA)),
      statusOf(call(target, 'GET', 'secret/data/x', undefined, tokenA)),
      // no default policy: not even the token's own capabilities or lookup
      statusOf(call(target, 'POST', 'sys/capabilities-self', { paths: [`${names.int}/issue/istio-workload`] }, tokenA)),
    ];
    expect(await Promise.all(denied)).toEqual(Array(denied.length).fill(403));
    const root = await call(target, 'POST', 'sys/capabilities', { token: tokenA, paths: [`${names.int}/issue/istio-workload`, `${names.int}/sign/istio-workload`] });
    expect(root.data[`${names.int}/issue/istio-workload`]).toEqual(['update']);
    expect(root.data[`${names.int}/sign/istio-workload`]).toEqual(['update']);
  });

  it('a service account outside the bound namespaces cannot log in at all', async () => {
    const other = uniqueName('bs-c');
    await serviceAccount(other, 'app-c');
    expect(await statusOf(workloadLogin(target, names.auth, await saToken(other, 'app-c')))).toBe(403);
    expect(await statusOf(workloadLogin(target, names.auth, await saToken(nsA, 'app-a', { audience: 'not-vault' })))).toBe(403);
  });

  it('the istiod plug-in CA Secret holds an intermediate signed by the same root, with a matching key', async () => {
    const s = await (await testKube()).readSecret(nsB, 'cacerts');
    expect(Object.keys(s!.data).sort()).toEqual(['ca-cert.pem', 'ca-key.pem', 'cert-chain.pem', 'root-cert.pem']);
    await writeFile(join(names.dir, 'istiod-chain.pem'), s!.data['cert-chain.pem']!);
    await writeFile(join(names.dir, 'istiod-root.pem'), s!.data['root-cert.pem']!);
    await writeFile(join(names.dir, 'istiod-ca.pem'), s!.data['ca-cert.pem']!);
    expect(await openssl(['verify', '-CAfile', 'istiod-root.pem', 'istiod-ca.pem'], names.dir)).toMatch(/OK/);
    const { createPrivateKey } = await import('node:crypto');
    expect(new X509Certificate(s!.data['ca-cert.pem']!).checkPrivateKey(createPrivateKey(s!.data['ca-key.pem']!))).toBe(true);
  });

  it('drift: a role field changed by hand shows up as exactly that field, and apply restores it', async () => {
    const path = `${names.int}/roles/istio-workload`;
    const role = (await call(target, 'GET', path)).data;
    await call(target, 'POST', path, { ...role, ttl: '48h' });
    const plan = await bootstrap(target, config, { dryRun: true });
    expect(planLines(plan.lines).filter((l) => !l.startsWith('= '))).toEqual([`~ PKI role ${names.int}/roles/istio-workload: ttl`]);
    expect(plan.writes).toBe(0);
    const fixed = await bootstrap(target, config);
    expect(fixed.applied).toEqual([`PKI role ${names.int}/roles/istio-workload`]);
    expect((await call(target, 'GET', path)).data.ttl).toBe(86400);
    const again = await bootstrap(target, config);
    expect(planLines(again.lines).every((l) => l.startsWith('= '))).toBe(true);
    expect(again.writes).toBe(0);
  });
});

describe('bootstrap with the default role', () => {
  it('refuses every DNS SAN, so a workload of namespace A cannot get an arbitrary <svc>.<A>.svc name, and still issues its SPIFFE ID', async () => {
    const own = await isolatedConfig([nsA]);
    const run = await bootstrap(target, own.config);
    const token = await workloadLogin(target, own.names.auth, await saToken(nsA, 'app-a'));
    const issueOwn = (body: Record<string, unknown>) =>
      call(target, 'POST', `${own.names.int}/issue/istio-workload`, { ttl: '1h', format: 'pem', exclude_cn_from_sans: true, ...body }, token);
    expect(await statusOf(issueOwn({ uri_sans: spiffe(nsA, 'app-a'), alt_names: `kube-dns.${nsA}.svc` }))).toBe(400);
    expect(await statusOf(issueOwn({ uri_sans: spiffe(nsA, 'app-a'), alt_names: `web.${nsA}.svc.cluster.local` }))).toBe(400);
    expect(await statusOf(issueOwn({ uri_sans: spiffe(nsA, 'app-a') }))).toBe(200);
    // the plan says so, so an operator who expected DNS SANs learns why before the first 400
    expect(run.lines.join('\n')).toMatch(/PKI role .*no DNS SANs.*allowNamespaceDnsSans/);
  });
});

describe('bootstrap with the default namespace binding', () => {
  it('service accounts of namespaces labelled vault-pki-agent.io/enabled=true may log in; others may not', async () => {
    // Vault's reviewer must read namespaces to evaluate a namespace selector (documented in docs/bootstrap.md).
    await kubectl(['create', 'clusterrole', 'vault-reviewer-namespaces', '--verb=get', '--resource=namespaces']).catch((e) => {
      if (!/AlreadyExists/.test(String(e.stderr ?? e))) throw e;
    });
    await kubectl(['create', 'clusterrolebinding', 'vault-reviewer-namespaces', '--clusterrole=vault-reviewer-namespaces', '--serviceaccount=vault-reviewer:vault-auth']).catch((e) => {
      if (!/AlreadyExists/.test(String(e.stderr ?? e))) throw e;
    });
    const on = uniqueName('bs-on');
    const off = uniqueName('bs-off');
    await Promise.all([serviceAccount(on, 'app'), serviceAccount(off, 'app')]);
    await kubectl(['label', 'namespace', on, 'vault-pki-agent.io/enabled=true']);
    const { config: cfg, names: n } = await isolatedConfig([]);
    expect(cfg.kubernetesAuth.role.namespaceSelector).toBe('vault-pki-agent.io/enabled=true');
    const run = await bootstrap(target, cfg);
    expect(planLines(run.lines)).toContain(
      `+ auth ${n.auth}/role/mesh-workload (${n.auth}/role/mesh-workload: service accounts * in namespaces labelled vault-pki-agent.io/enabled=true, audience vault, token ttl 1h)`,
    );
    expect(await statusOf(workloadLogin(target, n.auth, await saToken(on, 'app')))).toBe(200);
    expect(await statusOf(workloadLogin(target, n.auth, await saToken(off, 'app')))).toBe(403);
  });
});
