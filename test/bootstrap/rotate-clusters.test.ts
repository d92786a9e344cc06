// Root rotation with a clusters: config, against the real stack: Vault and
// two kube-apiservers (a, b). One shared root, an intermediate per cluster:
// prepare publishes the new root in both clusters (trust-bundle ConfigMaps,
// Linkerd's anchors, b's istiod cacerts); switch moves both intermediates and
// re-issues istiod's and each cluster's Linkerd issuer under the new root;
// finish leaves only the new root everywhere.
import { X509Certificate } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../agent/wait.ts';
import { validateConfig, type BootstrapConfig } from '../../src/bootstrap/config.ts';
import type { ClusterInfo } from '../ground/stack/stack.ts';
import { stackEnv, uniqueName } from '../ground/context.ts';
import { kubectlIn, reviewerJwtFile, tokenIn, twoClusters, workloadIdentity } from './clusters-fixture.ts';
import { bootstrap, call, devVault, exec } from './helpers.ts';
import { fingerprints, rotate, status } from './rotate-helpers.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
const ns = uniqueName('rc');
const linkerdNs = uniqueName('rc-linkerd');
const id = uniqueName('r').slice(2);
const root = `pki-${id}`;
const int = (c: 'a' | 'b') => `pki_istio-${id}_${c}`;

let A: ClusterInfo;
let B: ClusterInfo;
/** propagation 1h: switch refused; `ready` is the same config with 1s, for the run that may switch */
let waiting: BootstrapConfig;
let ready: BootstrapConfig;
let file: string;
let dir: string;
let raw: (propagation: string, kubeconfigB?: string) => object;
let oldRoot: string;
let newRoot: string;
const oldInt: Record<'a' | 'b', string> = { a: '', b: '' };

const json = async (c: ClusterInfo, args: string[]) => JSON.parse(await kubectlIn(c, [...args, '-o', 'json']));
const bundleIn = async (c: ClusterInfo) => fingerprints((await json(c, ['-n', ns, 'get', 'configmap', 'vault-pki-agent-trust-bundle'])).data['root-cert.pem']);
const secretKey = async (c: ClusterInfo, n: string, name: string, key: string) => Buffer.from((await json(c, ['-n', n, 'get', 'secret', name])).data[key], 'base64').toString();
const anchors = async (c: ClusterInfo) => fingerprints((await json(c, ['-n', linkerdNs, 'get', 'configmap', 'linkerd-identity-trust-roots'])).data['ca-bundle.crt']);
const linkerdIssuer = async (c: ClusterInfo) => new X509Certificate(await secretKey(c, linkerdNs, 'linkerd-identity-issuer', 'tls.crt'));
const issuerCert = async (mount: string) => new X509Certificate((await call(devVault(), 'GET', `${mount}/issuer/default/json`)).data.certificate);
const issuerNames = async (mount: string) => {
  const ids = (await call(devVault(), 'GET', `${mount}/issuers?list=true`)).data.keys as string[];
  return Promise.all(ids.map(async (i) => (await call(devVault(), 'GET', `${mount}/issuer/${i}`)).data as { issuer_name: string; certificate: string }));
};
const refusal = (p: Promise<unknown>) => p.then(() => 'accepted', (e: Error) => e.message);

beforeAll(async () => {
  [A, B] = twoClusters();
  dir = await mkdtemp(join(tmpdir(), 'vpa-rot-clusters-'));
  const label = `vpa-rc=${id}`;
  await Promise.all([workloadIdentity(A, ns, 'app', [label]), workloadIdentity(B, ns, 'app', [label])]);
  await Promise.all([kubectlIn(A, ['create', 'namespace', linkerdNs]), kubectlIn(B, ['create', 'namespace', linkerdNs])]);
  raw = (propagation: string, kubeconfigB = B.kubeconfig) => ({
    root: { mount: root, keyType: 'ec', keyBits: 256 }, // Linkerd accepts only P-256 anchors
    intermediate: { mount: `pki_istio-${id}` },
    kubernetesAuth: { mount: `k8s-${id}`, policy: `vpa-workload-${id}`, role: { namespaces: [ns] } },
    trustBundle: { enabled: true, namespaceSelector: label },
    istiodCa: { namespace: ns }, // off, but on for cluster b
    linkerd: { enabled: true, namespace: linkerdNs },
    rotation: { propagation },
    clusters: [
      { name: 'a', kubeconfig: A.kubeconfig, reviewerJwtFile: join(dir, 'reviewer-a.jwt') },
      { name: 'b', kubeconfig: kubeconfigB, reviewerJwtFile: join(dir, 'reviewer-b.jwt'), istiodCa: true },
    ],
  });
  await Promise.all([reviewerJwtFile(A, dir), reviewerJwtFile(B, dir)]);
  waiting = validateConfig(raw('1h'));
  ready = validateConfig(raw('1s'));
  file = join(dir, 'bootstrap.yaml');
  await writeFile(file, stringify(raw('1s')));
  await bootstrap(devVault(), ready);
  oldRoot = (await issuerCert(root)).fingerprint256;
  oldInt.a = (await issuerCert(int('a'))).fingerprint256;
  oldInt.b = (await issuerCert(int('b'))).fingerprint256;
}, 240_000);

describe('rotate --scope root with clusters a and b under one root', () => {
  it('refuses switch and finish before prepare, and --cluster with --scope root, changing nothing', async () => {
    expect(await refusal(rotate(devVault(), ready, { scope: 'root', phase: 'switch' }))).toMatch(/--phase switch refused: no root rotation in progress; the next phase is prepare/);
    expect(await refusal(rotate(devVault(), ready, { scope: 'root', phase: 'finish' }))).toMatch(/--phase finish refused: the next phase is prepare/);
    const cli = await exec(process.execPath, [MAIN, 'bootstrap', 'rotate', '--scope=root', '--phase=prepare', '--cluster=b', `--config=${file}`], { env: stackEnv() }).then(
      () => ({ code: 0, out: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, out: e.stderr }),
    );
    expect(cli).toMatchObject({ code: 2, out: expect.stringMatching(/--cluster b: .*drop --cluster/) });
    expect(fingerprints((await issuerNames(root)).map((i) => i.certificate).join('\n'))).toEqual([oldRoot]);
  });

  it("refuses prepare before any write when cluster b's identity may read but not update b's bundles, naming each object and the cluster", async () => {
    // b's connection as a service account of b that may read every object prepare writes, and update none
    const sa = 'reader';
    await kubectlIn(B, ['-n', ns, 'create', 'serviceaccount', sa]);
    const grant = (n: string, kind: string, obj: string) => kubectlIn(B, ['-n', n, 'create', 'role', `${sa}-${kind}-${obj}`, '--verb=get', `--resource=${kind}`, `--resource-name=${obj}`]).then(() =>
      kubectlIn(B, ['-n', n, 'create', 'rolebinding', `${sa}-${kind}-${obj}`, `--role=${sa}-${kind}-${obj}`, `--serviceaccount=${ns}:${sa}`]));
    await grant(ns, 'configmaps', 'vault-pki-agent-trust-bundle');
    await grant(ns, 'secrets', 'cacerts');
    await grant(linkerdNs, 'configmaps', 'linkerd-identity-trust-roots');
    await grant(linkerdNs, 'secrets', 'linkerd-identity-issuer');
    await kubectlIn(B, ['create', 'clusterrole', `${ns}-${sa}`, '--verb=get,list', '--resource=namespaces']);
    await kubectlIn(B, ['create', 'clusterrolebinding', `${ns}-${sa}`, `--clusterrole=${ns}-${sa}`, `--serviceaccount=${ns}:${sa}`]);
    const token = await tokenIn(B, ns, sa, 'https://kubernetes.default.svc.cluster.local');
    const kc = join(dir, 'b-reader.kubeconfig');
    const cluster = { server: B.kubeUrl, 'certificate-authority-data': Buffer.from(B.kubeCaPem).toString('base64') };
    await writeFile(kc, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'b', cluster }], users: [{ name: sa, user: { token } }], contexts: [{ name: 'b', context: { cluster: 'b', user: sa } }], 'current-context': 'b' }), { mode: 0o600 });

    const message = await refusal(rotate(devVault(), validateConfig(raw('1h', kc)), { scope: 'root', phase: 'prepare' }));
    for (const [kind, name, n] of [['configmaps', 'vault-pki-agent-trust-bundle', ns], ['secrets', 'cacerts', ns], ['configmaps', 'linkerd-identity-trust-roots', linkerdNs], ['secrets', 'linkerd-identity-issuer', linkerdNs]]) {
      expect(message).toContain(`update ${kind} "${name}" in namespace ${n} of cluster b`);
    }
    expect(message).not.toMatch(/of cluster a/); // a's identity is an admin
    expect(message).toMatch(/nothing was changed$/);
    expect(fingerprints((await issuerNames(root)).map((i) => i.certificate).join('\n'))).toEqual([oldRoot]);
  });

  it("prepare publishes the new root in both clusters' ConfigMaps and Linkerd anchors and in b's istiod cacerts, next to the old one", async () => {
    const run = await rotate(devVault(), waiting, { scope: 'root', phase: 'prepare' });
    expect(run.plan.filter((p) => p.action !== 'unchanged').map((p) => p.title)).toEqual(
      expect.arrayContaining(['cluster a: trust bundle ConfigMap vault-pki-agent-trust-bundle', 'cluster b: trust bundle ConfigMap vault-pki-agent-trust-bundle']),
    );
    newRoot = fingerprints((await issuerNames(root)).map((i) => i.certificate).join('\n')).find((f) => f !== oldRoot)!;
    expect(newRoot).toBeDefined();
    const both = [oldRoot, newRoot].sort();
    expect((await bundleIn(A)).sort()).toEqual(both);
    expect((await bundleIn(B)).sort()).toEqual(both);
    expect(fingerprints(await secretKey(B, ns, 'cacerts', 'root-cert.pem')).sort()).toEqual(both);
    for (const c of [A, B]) {
      expect((await anchors(c)).sort()).toEqual(both);
      expect(fingerprints(await secretKey(c, linkerdNs, 'linkerd-identity-issuer', 'ca.crt')).sort()).toEqual(both);
    }
    // nothing issues from the new root yet
    for (const c of ['a', 'b'] as const) expect((await issuerCert(int(c))).fingerprint256).toBe(oldInt[c]);
    expect(await refusal(rotate(devVault(), waiting, { scope: 'root', phase: 'finish' }))).toMatch(/--phase finish refused: the next phase is switch/);
    expect((await status(devVault(), waiting)).join('\n')).toMatch(new RegExp(`root rotation in ${root}/: prepared[\\s\\S]*cluster a: intermediate in ${int('a')}/:[\\s\\S]*cluster b: intermediate in ${int('b')}/:`));
  });

  it("refuses switch within rotation.propagation, then gives both clusters an intermediate under the new root and re-issues istiod's CA and each cluster's Linkerd issuer under it", async () => {
    expect(await refusal(rotate(devVault(), waiting, { scope: 'root', phase: 'switch' }))).toMatch(/--phase switch refused: the new root was published at .* left of rotation\.propagation 1h/);
    expect((await issuerCert(int('b'))).fingerprint256).toBe(oldInt.b);
    // rotation.propagation (1s) after the publication: --status says when switch may run
    await waitFor(async () => (await status(devVault(), ready)).some((l) => l.includes('next: --phase switch, now')), { intervalMs: 300 });
    await rotate(devVault(), ready, { scope: 'root', phase: 'switch' });
    const next = await issuerCert(root);
    expect(next.fingerprint256).toBe(newRoot);
    const ints = { a: await issuerCert(int('a')), b: await issuerCert(int('b')) };
    for (const c of ['a', 'b'] as const) {
      expect(ints[c].fingerprint256).not.toBe(oldInt[c]);
      expect(ints[c].verify(next.publicKey)).toBe(true);
    }
    expect(ints.a.fingerprint256).not.toBe(ints.b.fingerprint256);
    expect(new X509Certificate(await secretKey(B, ns, 'cacerts', 'ca-cert.pem')).verify(next.publicKey)).toBe(true);
    // each cluster its own Linkerd issuer, both under the one new root
    const [l5dA, l5dB] = [await linkerdIssuer(A), await linkerdIssuer(B)];
    expect(l5dA.fingerprint256).not.toBe(l5dB.fingerprint256);
    for (const l of [l5dA, l5dB]) expect(l.verify(next.publicKey)).toBe(true);
    // both roots still trusted everywhere while certificates under the old one live
    expect((await bundleIn(A)).sort()).toEqual([oldRoot, newRoot].sort());
    expect((await bundleIn(B)).sort()).toEqual([oldRoot, newRoot].sort());
    for (const c of [A, B]) expect((await anchors(c)).sort()).toEqual([oldRoot, newRoot].sort());
    expect((await status(devVault(), ready))[0]).toBe(`root rotation in ${root}/: switched`);
    // a second switch has nothing left to do
    expect((await rotate(devVault(), ready, { scope: 'root', phase: 'switch' })).writes).toBe(0);
  });

  it('refuses finish during the overlap; forced, it leaves only the new root in every bundle of both clusters and retires the old root everywhere', async () => {
    expect(await refusal(rotate(devVault(), ready, { scope: 'root', phase: 'finish' }))).toMatch(/--phase finish refused: certificates issued under the old root .* left; run finish after that, or pass --force/);
    expect((await bundleIn(A)).length).toBe(2);
    await rotate(devVault(), ready, { scope: 'root', phase: 'finish', force: true });
    for (const c of [A, B]) expect(await bundleIn(c)).toEqual([newRoot]);
    expect(fingerprints(await secretKey(B, ns, 'cacerts', 'root-cert.pem'))).toEqual([newRoot]);
    for (const c of [A, B]) {
      expect(await anchors(c)).toEqual([newRoot]);
      expect(fingerprints(await secretKey(c, linkerdNs, 'linkerd-identity-issuer', 'ca.crt'))).toEqual([newRoot]);
    }
    // the old root's issuer (root mount) and its copies (each workload mount) are kept, renamed retired-root-…
    for (const mount of [root, int('a'), int('b')]) {
      const old = (await issuerNames(mount)).filter((i) => new X509Certificate(i.certificate).fingerprint256 === oldRoot);
      expect(old.map((i) => i.issuer_name)).toEqual([expect.stringMatching(/^retired-root-\d+/)]);
    }
    expect((await status(devVault(), ready))[0]).toBe(`root rotation in ${root}/: idle`);
    // the CLI's --status without --cluster: the root once, then every cluster's workload mount
    const { stdout } = await exec(process.execPath, [MAIN, 'bootstrap', 'rotate', '--status', `--config=${file}`], { env: stackEnv() });
    expect(stdout.split('\n').filter((l) => /^(root rotation|cluster \w+:)/.test(l))).toEqual([
      `root rotation in ${root}/: idle`,
      `cluster a: intermediate in ${int('a')}/:`,
      `cluster b: intermediate in ${int('b')}/:`,
    ]);
  });
});
