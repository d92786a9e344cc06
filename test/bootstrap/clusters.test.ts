// Issue 12, one root and many clusters, against the real stack: Vault and two
// kube-apiservers (a, b) with separate CAs and service-account keys. One
// bootstrap run configures both; each cluster's workload gets its certificate
// from its own intermediate; they still talk mTLS through the shared root;
// neither cluster's identities reach the other's mount; b rotates alone.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../src/bootstrap/config.ts';
import type { ClusterInfo } from '../ground/stack/stack.ts';
import { stack, stackEnv, uniqueName } from '../ground/context.ts';
import { agentInit, kubectlIn, reviewerJwtFile, tokenIn, twoClusters, workloadIdentity } from './clusters-fixture.ts';
import { bootstrap, call, devVault, exec, openssl, statusOf, workloadLogin, type Run } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const ns = uniqueName('mc');
const id = uniqueName('c').slice(2);
const root = `pki-${id}`;
const mounts = (c: 'a' | 'b') => ({ int: `pki_istio-${id}_${c}`, auth: `k8s-${id}-${c}`, policy: `vpa-workload-${id}-${c}` });
const SA = { a: 'front', b: 'back' } as const;

let A: ClusterInfo;
let B: ClusterInfo;
let dir: string;
let file: string;
let first: Run;
const out: Record<'a' | 'b', string> = { a: '', b: '' };

const runFile = async () => bootstrap(devVault(), await loadConfigFile(file));
const pems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)!.map((p) => new X509Certificate(p));
const defaultIssuer = async (mount: string) => (await call(devVault(), 'GET', `${mount}/config/issuers`)).data.default as string;
const issuerIds = async (mount: string) => ((await call(devVault(), 'GET', `${mount}/issuers?list=true`)).data.keys as string[]).sort();
const defaultIssuerCert = async (mount: string) => new X509Certificate((await call(devVault(), 'GET', `${mount}/issuer/default/json`)).data.certificate);
const init = (c: ClusterInfo, name: 'a' | 'b', tag?: string) =>
  agentInit({ cluster: c, ns, sa: SA[name], dir, authMount: mounts(name).auth, pkiMount: mounts(name).int, rootMount: root, tag });

beforeAll(async () => {
  [A, B] = twoClusters();
  dir = await mkdtemp(join(tmpdir(), 'vpa-clusters-'));
  const label = `vpa-mc=${id}`;
  await Promise.all([workloadIdentity(A, ns, SA.a, [label]), workloadIdentity(B, ns, SA.b, [label])]);
  file = join(dir, 'bootstrap.yaml');
  await writeFile(
    file,
    stringify({
      root: { mount: root },
      intermediate: { mount: `pki_istio-${id}` },
      kubernetesAuth: { mount: `k8s-${id}`, policy: `vpa-workload-${id}`, role: { namespaces: [ns] } },
      trustBundle: { enabled: true, namespaceSelector: label },
      istiodCa: { namespace: ns }, // off, but on for cluster b
      // API address and CA come from each kubeconfig; the reviewer token from each cluster
      clusters: [
        { name: 'a', kubeconfig: A.kubeconfig, reviewerJwtFile: await reviewerJwtFile(A, dir) },
        { name: 'b', kubeconfig: B.kubeconfig, reviewerJwtFile: await reviewerJwtFile(B, dir), istiodCa: true },
      ],
    }),
  );
  first = await runFile();
}, 240_000);

describe('bootstrap with clusters a and b under one root', () => {
  it("makes each cluster's auth mount, intermediate, role bound to its own accessor, policy, trust bundle and (b only) istiod CA, each plan line naming its cluster", async () => {
    const auths = (await call(devVault(), 'GET', 'sys/auth')).data as Record<string, { accessor: string }>;
    for (const [c, info] of [['a', A], ['b', B]] as const) {
      const m = mounts(c);
      expect(first.plan.filter((p) => p.title.startsWith(`cluster ${c}: `) && p.action === 'create').map((p) => p.title)).toEqual(
        expect.arrayContaining([`cluster ${c}: auth ${m.auth}/`, `cluster ${c}: intermediate CA in ${m.int}/`, `cluster ${c}: policy ${m.policy}`]),
      );
      const role = (await call(devVault(), 'GET', `${m.int}/roles/istio-workload`)).data;
      expect(role.allowed_uri_sans).toEqual([expect.stringContaining(`aliases.${auths[`${m.auth}/`]!.accessor}.metadata`)]);
      expect((await call(devVault(), 'GET', `auth/${m.auth}/config`)).data.kubernetes_host).toBe(info.kubeUrl);
      const bundle = JSON.parse(await kubectlIn(info, ['-n', ns, 'get', 'configmap', 'vault-pki-agent-trust-bundle', '-o', 'json'])).data['root-cert.pem'];
      expect(pems(bundle).map((x) => x.fingerprint256)).toEqual([(await defaultIssuerCert(root)).fingerprint256]);
    }
    // istiod's cacerts only where asked: in b, signed by the shared root; none in a
    const secret = JSON.parse(await kubectlIn(B, ['-n', ns, 'get', 'secret', 'cacerts', '-o', 'json'])).data;
    const istiodCert = new X509Certificate(Buffer.from(secret['ca-cert.pem'], 'base64'));
    expect(istiodCert.verify((await defaultIssuerCert(root)).publicKey)).toBe(true);
    expect(await kubectlIn(A, ['-n', ns, 'get', 'secret', 'cacerts', '--ignore-not-found', '-o', 'name'])).toBe('');
  });

  it("gives a workload in each cluster a certificate from its own cluster's intermediate; the intermediates differ and both chains verify to the shared root", async () => {
    out.a = await init(A, 'a');
    out.b = await init(B, 'b');
    const intA = await defaultIssuerCert(mounts('a').int);
    const intB = await defaultIssuerCert(mounts('b').int);
    expect(intA.fingerprint256).not.toBe(intB.fingerprint256);
    for (const [c, int] of [['a', intA], ['b', intB]] as const) {
      const [leaf, signer] = pems(await readFile(join(out[c], 'cert-chain.pem'), 'utf8'));
      expect(leaf!.subjectAltName).toBe(`URI:spiffe://cluster.local/ns/${ns}/sa/${SA[c]}`);
      expect(signer!.fingerprint256).toBe(int.fingerprint256);
      expect(leaf!.verify(int.publicKey)).toBe(true);
    }
    // b's chain against a's root-cert.pem: one root for both clusters
    const chainB = join(out.b, 'cert-chain.pem');
    expect(await openssl(['verify', '-CAfile', join(out.a, 'root-cert.pem'), '-untrusted', chainB, chainB], dir)).toMatch(/: OK/);
  });

  it("completes an mTLS handshake between a's and b's workloads, each side trusting only its own root-cert.pem", async () => {
    const files = async (c: 'a' | 'b') => ({
      key: await readFile(join(out[c], 'key.pem')),
      cert: await readFile(join(out[c], 'cert-chain.pem')),
      ca: await readFile(join(out[c], 'root-cert.pem')),
    });
    const [a, b] = [await files('a'), await files('b')];
    let serverSaw = '';
    const server = tls.createServer({ ...a, requestCert: true, rejectUnauthorized: true }, (socket) => {
      serverSaw = socket.getPeerCertificate().subjectaltname ?? '';
      socket.end('hello from a');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      // SPIFFE certificates carry no DNS name: the peer's identity is its URI SAN, checked below
      const client = tls.connect({ ...b, host: '127.0.0.1', port, checkServerIdentity: () => undefined });
      const [clientSaw, reply] = await new Promise<[string, string]>((resolve, reject) => {
        let data = '';
        client.on('data', (d) => (data += d));
        client.on('end', () => resolve([client.getPeerCertificate().subjectaltname ?? '', data]));
        client.on('error', reject);
      });
      expect(reply).toBe('hello from a');
      expect(clientSaw).toBe(`URI:spiffe://cluster.local/ns/${ns}/sa/${SA.a}`);
      expect(serverSaw).toBe(`URI:spiffe://cluster.local/ns/${ns}/sa/${SA.b}`);
    } finally {
      server.close();
    }
  });

  it("refuses a's service-account token at b's auth mount, and a's Vault token at b's intermediate", async () => {
    const [tokenA, tokenB] = [await tokenIn(A, ns, SA.a), await tokenIn(B, ns, SA.b)];
    expect(await statusOf(workloadLogin(devVault(), mounts('b').auth, tokenA))).toBe(403);
    expect(await statusOf(workloadLogin(devVault(), mounts('b').auth, tokenB))).toBe(200);
    const vaultTokenA = await workloadLogin(devVault(), mounts('a').auth, tokenA);
    const issue = (m: string) => call(devVault(), 'POST', `${m}/issue/istio-workload`, { uri_sans: `spiffe://cluster.local/ns/${ns}/sa/${SA.a}`, ttl: '10m' }, vaultTokenA);
    expect(await statusOf(issue(mounts('b').int))).toBe(403);
    expect(await statusOf(issue(mounts('a').int))).toBe(200);
  });

  it('plans every step of a second run `=` and writes nothing', async () => {
    const again = await runFile();
    expect(again.plan.filter((p) => p.action !== 'unchanged')).toEqual([]);
    expect(again.plan.length).toBe(first.plan.length);
    expect(again.writes).toBe(0);
  });

  it("shows a hand edit of b's policy as a change on b's line only, and puts it back", async () => {
    const path = `sys/policies/acl/${mounts('b').policy}`;
    const text = (await call(devVault(), 'GET', path)).data.policy as string;
    await call(devVault(), 'POST', path, { policy: `${text}\npath "${mounts('a').int}/issue/*" { capabilities = ["update"] }\n` });
    const fixed = await runFile();
    expect(fixed.plan.filter((p) => p.action !== 'unchanged').map((p) => `${p.action} ${p.title}`)).toEqual([`change cluster b: policy ${mounts('b').policy}`]);
    expect((await call(devVault(), 'GET', path)).data.policy).toBe(text);
  });

  it("rotates b's intermediate with rotate --scope intermediate --cluster b and leaves a's issuer and certificates as they were", async () => {
    const before = { aIds: await issuerIds(mounts('a').int), aDefault: await defaultIssuer(mounts('a').int), bDefault: await defaultIssuer(mounts('b').int) };
    const oldIntB = await defaultIssuerCert(mounts('b').int);
    const rotate = (args: string[]) => exec(process.execPath, [MAIN, 'bootstrap', 'rotate', '--scope=intermediate', `--config=${file}`, ...args], { env: stackEnv() });
    // without naming a cluster, nothing is rotated (usage error, exit 2)
    expect(await rotate([]).then(() => 0, (e: { code: number }) => e.code)).toBe(2);
    expect(await defaultIssuer(mounts('b').int)).toBe(before.bDefault);
    await rotate(['--cluster=b']);

    expect(await defaultIssuer(mounts('b').int)).not.toBe(before.bDefault);
    expect(await issuerIds(mounts('a').int)).toEqual(before.aIds);
    expect(await defaultIssuer(mounts('a').int)).toBe(before.aDefault);
    // a's workload: its chain still verifies against its cluster's trust bundle, and a renewal still comes from a's intermediate
    const chainA = join(out.a, 'cert-chain.pem');
    const bundleFile = join(dir, 'bundle-a.pem');
    await writeFile(bundleFile, JSON.parse(await kubectlIn(A, ['-n', ns, 'get', 'configmap', 'vault-pki-agent-trust-bundle', '-o', 'json'])).data['root-cert.pem']);
    expect(await openssl(['verify', '-CAfile', bundleFile, '-untrusted', chainA, chainA], dir)).toMatch(/: OK/);
    const oldSignerA = pems(await readFile(chainA, 'utf8'))[1]!;
    expect(pems(await readFile(join(await init(A, 'a', '-after'), 'cert-chain.pem'), 'utf8'))[1]!.fingerprint256).toBe(oldSignerA.fingerprint256);
    const newSignerB = pems(await readFile(join(await init(B, 'b', '-after'), 'cert-chain.pem'), 'utf8'))[1]!;
    expect(newSignerB.fingerprint256).not.toBe(oldIntB.fingerprint256);
    expect(newSignerB.verify((await defaultIssuerCert(root)).publicKey)).toBe(true);
  });
});

// the stack names both clusters for `source .stack/env` users too (scripts/stack.ts writes the same file)
it('names both kubeconfigs in the stack env file, cluster a as KUBECONFIG', async () => {
  const env = await readFile(join(stack().dir, 'env'), 'utf8');
  expect(env).toContain(`export KUBECONFIG='${A.kubeconfig}'`);
  expect(env).toContain(`export KUBECONFIG_B='${B.kubeconfig}'`);
  expect(A.kubeconfig).toBe(stack().kubeconfig);
});
