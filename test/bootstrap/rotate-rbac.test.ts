// A rotation phase's Kubernetes writes (trust-bundle ConfigMap, istiod
// cacerts Secret) are checked against the real kube-apiserver's RBAC before
// the phase writes anything: run as a service account that may read both
// objects but update neither, prepare is refused naming both missing verbs,
// and Vault is unchanged; once granted, the same identity runs prepare and
// switch (istiod's CA re-issued under the new root).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { loadKube, type KubeApi } from '../../src/bootstrap/kube.ts';
import { isAgentError } from '../../src/errors.ts';
import { waitFor } from '../agent/wait.ts';
import { kubectl, saToken, serviceAccount, stack, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, type Names } from './helpers.ts';
import { rotate, status } from './rotate-helpers.ts';

const target = devVault();
const ns = uniqueName('rot-rbac');
const label = `vault-pki-agent.io/test=${ns}`;
let config: BootstrapConfig;
let names: Names;
let asRotator: () => Promise<KubeApi>;

const apply = (objects: object[]) => kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
/** The rotator's Role: read both objects, and update them only with `update`. */
const role = (update: boolean) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind: 'Role',
  metadata: { name: 'rotator', namespace: ns },
  rules: [
    { apiGroups: [''], resources: ['configmaps'], resourceNames: [config.trustBundle.configMapName], verbs: update ? ['get', 'update'] : ['get'] },
    { apiGroups: [''], resources: ['secrets'], resourceNames: [config.istiodCa.secretName], verbs: update ? ['get', 'update'] : ['get'] },
  ],
});

beforeAll(async () => {
  await serviceAccount(ns, 'rotator');
  await kubectl(['label', 'namespace', ns, label]);
  ({ config, names } = await isolatedConfig([ns], () => ({
    roles: [{ name: 'istio-workload', ttl: '2s', maxTtl: '3s' }],
    rotation: { propagation: '1s', clockMargin: '1s' },
    trustBundle: { enabled: true, namespaceSelector: label },
    istiodCa: { enabled: true, namespace: ns },
  })));
  await bootstrap(target, config);
  await apply([
    role(false),
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'rotator', namespace: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'rotator' }, subjects: [{ kind: 'ServiceAccount', name: 'rotator', namespace: ns }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: ns }, rules: [{ apiGroups: [''], resources: ['namespaces'], verbs: ['list'] }] },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: ns }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: ns }, subjects: [{ kind: 'ServiceAccount', name: 'rotator', namespace: ns }] },
  ]);
  const token = await saToken(ns, 'rotator', { audience: 'https://kubernetes.default.svc.cluster.local' });
  const file = join(names.dir, 'rotator.kubeconfig');
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'stack', cluster: { server: stack().kubeUrl, 'certificate-authority-data': Buffer.from(stack().kubeCaPem).toString('base64') } }],
      users: [{ name: 'rotator', user: { token } }],
      contexts: [{ name: 'rotator', context: { cluster: 'stack', user: 'rotator' } }],
      'current-context': 'rotator',
    }),
    { mode: 0o600 },
  );
  asRotator = () => loadKube(file);
}, 60_000);

describe('the Kubernetes pre-flight of a rotation phase', () => {
  it('refuses prepare before any write, naming each verb the identity lacks; granted, the same identity runs prepare and switch', async () => {
    const roots = async () => Object.keys((await call(target, 'LIST', `${names.root}/issuers`)).data.key_info).length;
    const refused = await rotate(target, config, { scope: 'root', phase: 'prepare', kube: asRotator }).catch((e: unknown) => e);
    expect(isAgentError(refused) && refused.exitCode).toBe(1);
    const message = (refused as Error).message;
    expect(message).toContain(`update configmaps "${config.trustBundle.configMapName}" in namespace ${ns}`);
    expect(message).toContain(`update secrets "${config.istiodCa.secretName}" in namespace ${ns}`);
    expect(message).not.toMatch(/ get |list namespaces/); // what it may do is not reported as missing
    expect(message).toMatch(/nothing was changed$/);
    expect(await roots()).toBe(1);
    expect((await status(target, config))[0]).toMatch(/: idle$/);

    await apply([role(true)]);
    // RBAC reaches the authorizer through an informer: a moment after the write
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'prepare', kube: asRotator }).catch(() => undefined)), {
      timeoutMs: 15_000,
      intervalMs: 500,
      what: () => 'prepare admitted once update is granted',
    });
    expect(await roots()).toBe(2);
    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'switch', kube: asRotator }).catch(() => undefined)), {
      timeoutMs: 15_000,
      intervalMs: 500,
      what: () => 'switch after rotation.propagation',
    });
    expect((await status(target, config))[0]).toMatch(/: switched$/);
  }, 60_000);
});
