// The chart's bootstrap RBAC for Linkerd's issuer: rendered only when
// bootstrap.config enables linkerd, limited to the two object names in
// Linkerd's namespace (plus create) and a get on that namespace alone —
// checked in the rendered text, by the real kube-apiserver's authorizer
// (`kubectl auth can-i` as the Job's ServiceAccount), and by running
// bootstrap and a rotation phase as that ServiceAccount.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { loadKube, type KubeApi } from '../../src/bootstrap/kube.ts';
import { runBootstrap } from '../../src/bootstrap/run.ts';
import { bootstrapVault } from '../../src/bootstrap/vault.ts';
import { createVaultClient } from '../../src/vault/client.ts';
import { ensurePeer } from '../ground/peers/build.ts';
import { kubectl, saToken, stack, uniqueName } from '../ground/context.ts';
import { helmTemplate } from '../webhook/helm.ts';
import { devVault, isolatedConfig, type Names } from './helpers.ts';
import { fingerprints, rotate } from './rotate-helpers.ts';

const RBAC_KINDS = new Set(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  rules?: unknown[];
}

let helm: string;
const render = async (release: string, ns: string, args: string[]): Promise<Obj[]> => {
  const base = ['--set', 'bootstrap.enabled=true', '--set', 'bootstrap.vaultTokenSecret.name=vault-token', '--set', 'bootstrap.tokenReviewer.create=false'];
  const stdout = await helmTemplate(helm, [...base, ...args], { release, namespace: ns });
  return parseAllDocuments(stdout).map((d) => d.toJS() as Obj).filter(Boolean);
};
const bootstrapRbac = (objs: Obj[]) => objs.filter((o) => RBAC_KINDS.has(o.kind) && o.metadata.name.includes('-bootstrap'));
const linkerdOn = (ns: string) => ['--set', 'bootstrap.config.linkerd.enabled=true', '--set', `bootstrap.config.linkerd.namespace=${ns}`];

beforeAll(async () => {
  helm = (await ensurePeer('helm')).bin.helm!;
}, 1_800_000);

describe('helm chart: bootstrap RBAC for Linkerd', () => {
  it('renders none of it unless bootstrap.config.linkerd.enabled', async () => {
    const objs = await render('vpa', 'vpa', ['--set', 'bootstrap.config.linkerd.namespace=l5d']);
    expect(bootstrapRbac(objs).map((o) => o.metadata.name)).toEqual([]);
  });

  it("grants get/update on Linkerd's two object names and create, in its namespace, and get on that namespace only — all hooks deleted after success", async () => {
    const rbac = bootstrapRbac(await render('vpa', 'vpa', linkerdOn('l5d')));
    expect(rbac.map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}`).sort()).toEqual(['ClusterRole -', 'ClusterRoleBinding -', 'Role l5d', 'RoleBinding l5d']);
    expect(rbac.find((o) => o.kind === 'Role')!.rules).toEqual([
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['linkerd-identity-trust-roots'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['linkerd-identity-issuer'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['create'] },
    ]);
    expect(rbac.find((o) => o.kind === 'ClusterRole')!.rules).toEqual([{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['l5d'], verbs: ['get'] }]);
    for (const o of rbac) expect(o.metadata.annotations?.['helm.sh/hook-delete-policy']).toMatch(/hook-succeeded/);
  });

  describe('applied to the real kube-apiserver', () => {
    const release = uniqueName('r');
    const ns = uniqueName('vpa-l5d-job');
    const linkerdNs = uniqueName('vpa-l5d');
    const other = uniqueName('vpa-l5d-other');
    let as = '';
    let sa = '';
    let cleanup: Obj[] = [];
    let config: BootstrapConfig;
    let names: Names;
    let asJob: () => Promise<KubeApi>;

    beforeAll(async () => {
      for (const n of [ns, linkerdNs, other]) await kubectl(['create', 'namespace', n]);
      const objs = await render(release, ns, linkerdOn(linkerdNs));
      cleanup = bootstrapRbac(objs).filter((o) => !o.metadata.namespace);
      const account = objs.find((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-bootstrap'))!;
      sa = account.metadata.name;
      as = `--as=system:serviceaccount:${ns}:${sa}`;
      await kubectl(['apply', '-f', '-'], [account, ...bootstrapRbac(objs)].map((o) => JSON.stringify(o)).join('\n'));
      ({ config, names } = await isolatedConfig([ns], (n) => ({
        root: { mount: n.root, keyType: 'ec', keyBits: 256 },
        linkerd: { enabled: true, namespace: linkerdNs },
        rotation: { propagation: '1s' },
      })));
      const file = join(names.dir, 'job.kubeconfig');
      const token = await saToken(ns, sa, { audience: 'https://kubernetes.default.svc.cluster.local' });
      const cluster = { server: stack().kubeUrl, 'certificate-authority-data': Buffer.from(stack().kubeCaPem).toString('base64') };
      const kc = { apiVersion: 'v1', kind: 'Config', clusters: [{ name: 's', cluster }], users: [{ name: 'job', user: { token } }], contexts: [{ name: 'job', context: { cluster: 's', user: 'job' } }], 'current-context': 'job' };
      await writeFile(file, JSON.stringify(kc), { mode: 0o600 });
      asJob = () => loadKube(file);
    }, 120_000);
    afterAll(async () => {
      for (const o of cleanup) await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']);
      await kubectl(['delete', 'namespace', ns, linkerdNs, other, '--wait=false']);
    });

    /** `kubectl auth can-i` exits 1 with "no" when denied; both answers are data here. */
    const canI = async (args: string[]): Promise<string> => (await kubectl(['auth', 'can-i', ...args, as]).catch((e: { stdout?: string }) => e.stdout ?? '')).trim();

    it("the Job's ServiceAccount may write Linkerd's two objects and read their namespace, and nothing else there or elsewhere", async () => {
      const ask = {
        'get the anchors': ['get', 'configmaps/linkerd-identity-trust-roots', '-n', linkerdNs],
        'update the anchors': ['update', 'configmaps/linkerd-identity-trust-roots', '-n', linkerdNs],
        'get the issuer': ['get', 'secrets/linkerd-identity-issuer', '-n', linkerdNs],
        'update the issuer': ['update', 'secrets/linkerd-identity-issuer', '-n', linkerdNs],
        'create a Secret there': ['create', 'secrets', '-n', linkerdNs],
        'create a ConfigMap there': ['create', 'configmaps', '-n', linkerdNs],
        'get its namespace': ['get', `namespaces/${linkerdNs}`],
        'get another namespace': ['get', `namespaces/${other}`],
        'list namespaces': ['list', 'namespaces'],
        'get another Secret there': ['get', 'secrets/linkerd-identity-token', '-n', linkerdNs],
        'list Secrets there': ['list', 'secrets', '-n', linkerdNs],
        'delete the issuer': ['delete', 'secrets/linkerd-identity-issuer', '-n', linkerdNs],
        'patch the anchors': ['patch', 'configmaps/linkerd-identity-trust-roots', '-n', linkerdNs],
        'get the issuer elsewhere': ['get', 'secrets/linkerd-identity-issuer', '-n', other],
        'create a Secret elsewhere': ['create', 'secrets', '-n', other],
      };
      const answers = Object.fromEntries(await Promise.all(Object.entries(ask).map(async ([k, args]) => [k, await canI(args)])));
      const yes = ['get the anchors', 'update the anchors', 'get the issuer', 'update the issuer', 'create a Secret there', 'create a ConfigMap there', 'get its namespace'];
      expect(answers).toEqual(Object.fromEntries(Object.keys(ask).map((k) => [k, yes.includes(k) ? 'yes' : 'no'])));
    });

    it('is enough for bootstrap to write both objects and for rotate --phase prepare to put both roots in the anchors', async () => {
      const t = devVault();
      const run = await runBootstrap({ config, vault: bootstrapVault(createVaultClient({ address: t.addr, caPem: t.caPem }), t.token), kube: asJob, out: () => {} });
      expect(run.applied.filter((t) => t.includes('Linkerd'))).toHaveLength(2);
      await rotate(devVault(), config, { scope: 'root', phase: 'prepare', kube: asJob });
      const kube = await asJob();
      expect(fingerprints((await kube.readConfigMap(linkerdNs, 'linkerd-identity-trust-roots'))!.data['ca-bundle.crt']!)).toHaveLength(2);
      expect(fingerprints((await kube.readSecret(linkerdNs, 'linkerd-identity-issuer'))!.data['ca.crt']!)).toHaveLength(2);
    });
  });
});
