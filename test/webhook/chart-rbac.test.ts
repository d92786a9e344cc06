// The chart's bootstrap RBAC: rendered only for the features bootstrap.config
// turns on, limited by name, made and deleted with the hook — checked in the
// rendered text and, applied for real, by the real kube-apiserver's authorizer
// (`kubectl auth can-i` as the Job's ServiceAccount).
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensurePeer } from '../ground/peers/build.ts';
import { helmTemplate } from './helm.ts';
import { kubectl, uniqueName } from '../ground/context.ts';

const BOOTSTRAP = ['--set', 'bootstrap.enabled=true', '--set', 'bootstrap.vaultTokenSecret.name=vault-token'];
const RBAC_KINDS = new Set(['ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding']);

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  rules?: unknown[];
}

describe('helm chart: bootstrap RBAC', () => {
  let helm: string;
  beforeAll(async () => {
    helm = (await ensurePeer('helm')).bin.helm!;
  }, 1_800_000);

  const render = async (release: string, ns: string, args: string[]): Promise<Obj[]> => {
    const stdout = await helmTemplate(helm, [...BOOTSTRAP, ...args], { release, namespace: ns });
    return parseAllDocuments(stdout).map((d) => d.toJS() as Obj).filter(Boolean);
  };
  const bootstrapRbac = (objs: Obj[]) => objs.filter((o) => RBAC_KINDS.has(o.kind) && o.metadata.name.includes('-bootstrap'));
  const features = (istiodNs: string) => ['--set', 'bootstrap.config.trustBundle.enabled=true', '--set', 'bootstrap.config.istiodCa.enabled=true', '--set', `bootstrap.config.istiodCa.namespace=${istiodNs}`];

  it('renders no bootstrap Role or ClusterRole when neither the trust bundle nor the istiod CA is enabled', async () => {
    expect(bootstrapRbac(await render('vpa', 'vpa', [])).map((o) => o.kind)).toEqual([]);
  });

  it('grants list on namespaces, get/update on the one trust-bundle ConfigMap name, and get/update on the one cacerts Secret in its namespace — all hooks deleted after success', async () => {
    const objs = await render('vpa', 'vpa', [...features('mesh-ca'), '--set', 'bootstrap.config.trustBundle.configMapName=roots']);
    const rbac = bootstrapRbac(objs);
    expect(rbac.map((o) => `${o.kind} ${o.metadata.namespace ?? '-'}`).sort()).toEqual(['ClusterRole -', 'ClusterRoleBinding -', 'Role mesh-ca', 'RoleBinding mesh-ca']);
    expect(rbac.find((o) => o.kind === 'ClusterRole')!.rules).toEqual([
      { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['roots'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create'] },
    ]);
    expect(rbac.find((o) => o.kind === 'Role')!.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], resourceNames: ['cacerts'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
    ]);
    const sa = objs.filter((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-bootstrap'));
    for (const o of [...rbac, ...sa]) {
      expect(o.metadata.annotations?.['helm.sh/hook']).toBe('post-install,post-upgrade');
      expect(o.metadata.annotations?.['helm.sh/hook-delete-policy']).toMatch(/hook-succeeded/);
      expect(Number(o.metadata.annotations?.['helm.sh/hook-weight'])).toBeLessThan(0);
    }
  });

  describe('applied to the real kube-apiserver', () => {
    const release = uniqueName('r');
    const ns = uniqueName('vpa-rbac');
    const istiodNs = uniqueName('vpa-istiod');
    const other = uniqueName('vpa-other');
    let as = '';
    let cleanup: Obj[] = [];
    beforeAll(async () => {
      for (const n of [ns, istiodNs, other]) await kubectl(['create', 'namespace', n]);
      const objs = await render(release, ns, features(istiodNs));
      cleanup = bootstrapRbac(objs).filter((o) => !o.metadata.namespace);
      const sa = objs.find((o) => o.kind === 'ServiceAccount' && o.metadata.name.endsWith('-bootstrap'))!;
      as = `--as=system:serviceaccount:${ns}:${sa.metadata.name}`;
      const docs = [sa, ...bootstrapRbac(objs)].map((o) => JSON.stringify(o)).join('\n');
      await kubectl(['apply', '-f', '-'], docs);
    }, 120_000);
    afterAll(async () => {
      for (const o of cleanup) await kubectl(['delete', o.kind.toLowerCase(), o.metadata.name, '--ignore-not-found']);
      await kubectl(['delete', 'namespace', ns, istiodNs, other, '--wait=false']);
    });

    /** `kubectl auth can-i` exits 1 with "no" when denied; both answers are data here. */
    const canI = async (args: string[]): Promise<string> =>
      (await kubectl(['auth', 'can-i', ...args, as]).catch((e: { stdout?: string }) => e.stdout ?? '')).trim();

    it('the bootstrap ServiceAccount may do exactly what bootstrap needs and cannot read or write any other Secret or ConfigMap', async () => {
      const answers = {
        'list namespaces': await canI(['list', 'namespaces']),
        'get the bundle ConfigMap elsewhere': await canI(['get', 'configmaps/vault-pki-agent-trust-bundle', '-n', other]),
        'update the bundle ConfigMap elsewhere': await canI(['update', 'configmaps/vault-pki-agent-trust-bundle', '-n', other]),
        'create a ConfigMap': await canI(['create', 'configmaps', '-n', other]),
        'get cacerts in the istiod namespace': await canI(['get', 'secrets/cacerts', '-n', istiodNs]),
        'update cacerts in the istiod namespace': await canI(['update', 'secrets/cacerts', '-n', istiodNs]),
        'get another ConfigMap': await canI(['get', 'configmaps/kube-root-ca.crt', '-n', other]),
        'list ConfigMaps': await canI(['list', 'configmaps', '-n', other]),
        'get another Secret in the istiod namespace': await canI(['get', 'secrets/other', '-n', istiodNs]),
        'list Secrets in the istiod namespace': await canI(['list', 'secrets', '-n', istiodNs]),
        'get cacerts elsewhere': await canI(['get', 'secrets/cacerts', '-n', other]),
        'create a Secret elsewhere': await canI(['create', 'secrets', '-n', other]),
        'patch the bundle ConfigMap': await canI(['patch', 'configmaps/vault-pki-agent-trust-bundle', '-n', other]),
        'delete the bundle ConfigMap': await canI(['delete', 'configmaps/vault-pki-agent-trust-bundle', '-n', other]),
      };
      expect(answers).toEqual({
        'list namespaces': 'yes',
        'get the bundle ConfigMap elsewhere': 'yes',
        'update the bundle ConfigMap elsewhere': 'yes',
        'create a ConfigMap': 'yes',
        'get cacerts in the istiod namespace': 'yes',
        'update cacerts in the istiod namespace': 'yes',
        'get another ConfigMap': 'no',
        'list ConfigMaps': 'no',
        'get another Secret in the istiod namespace': 'no',
        'list Secrets in the istiod namespace': 'no',
        'get cacerts elsewhere': 'no',
        'create a Secret elsewhere': 'no',
        'patch the bundle ConfigMap': 'no',
        'delete the bundle ConfigMap': 'no',
      });
    });
  });
});
