// The Kubernetes calls of the token reviewer (steps/reviewer.ts) and the
// verification (verify.ts): service accounts, a long-lived token Secret,
// cluster-wide RBAC and TokenRequest, behind a narrow interface. The client
// library is imported only when one of them runs (this file itself is always loaded).

import { AgentError } from '../errors.ts';
import { kubeError, type KubeApi } from './kube.ts';

export interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export interface Binding {
  role: string;
  /** `namespace/name` of each ServiceAccount subject */
  subjects: string[];
}

export interface KubeAccounts {
  namespaceExists(name: string): Promise<boolean>;
  serviceAccountExists(namespace: string, name: string): Promise<boolean>;
  createServiceAccount(namespace: string, name: string, labels: Record<string, string>): Promise<void>;
  /** a `kubernetes.io/service-account-token` Secret: its ServiceAccount and (once the token controller filled it) token */
  readTokenSecret(namespace: string, name: string): Promise<{ type: string; serviceAccount: string | undefined; token: string | undefined } | undefined>;
  createTokenSecret(namespace: string, name: string, serviceAccount: string, labels: Record<string, string>): Promise<void>;
  readClusterRole(name: string): Promise<Rule[] | undefined>;
  writeClusterRole(name: string, rules: Rule[], labels: Record<string, string>, exists: boolean): Promise<void>;
  readClusterRoleBinding(name: string): Promise<Binding | undefined>;
  /** `exists`: replace the subjects (a roleRef cannot change) */
  writeClusterRoleBinding(name: string, b: Binding, labels: Record<string, string>, exists: boolean): Promise<void>;
  /** TokenRequest: a bound token for `namespace/name` with this audience */
  requestToken(namespace: string, name: string, audience: string, seconds: number): Promise<string>;
}

const absent = (err: unknown) => (err as { code?: number }).code === 404;

export async function kubeAccounts(kube: KubeApi): Promise<KubeAccounts> {
  const k8s = await import('@kubernetes/client-node');
  const core = kube.kubeConfig.makeApiClient(k8s.CoreV1Api);
  const rbac = kube.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
  const attempt = async <T>(op: string, target: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (err) {
      throw kubeError(op, target, err);
    }
  };
  const readOrUndefined = async <T>(target: string, call: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await call();
    } catch (err) {
      if (absent(err)) return undefined;
      throw kubeError('get', target, err);
    }
  };
  const subject = (s: { kind: string; namespace?: string; name: string }) => (s.kind === 'ServiceAccount' ? `${s.namespace}/${s.name}` : `${s.kind}:${s.name}`);

  return {
    async namespaceExists(name) {
      return (await readOrUndefined(`Namespace ${name}`, () => core.readNamespace({ name }))) !== undefined;
    },
    async serviceAccountExists(namespace, name) {
      return (await readOrUndefined(`ServiceAccount ${namespace}/${name}`, () => core.readNamespacedServiceAccount({ name, namespace }))) !== undefined;
    },
    async createServiceAccount(namespace, name, labels) {
      await attempt('create', `ServiceAccount ${namespace}/${name}`, () => core.createNamespacedServiceAccount({ namespace, body: { metadata: { name, namespace, labels } } }));
    },
    async readTokenSecret(namespace, name) {
      const s = await readOrUndefined(`Secret ${namespace}/${name}`, () => core.readNamespacedSecret({ name, namespace }));
      if (!s) return undefined;
      const token = s.data?.token ? Buffer.from(s.data.token, 'base64').toString('utf8') : undefined;
      return { type: s.type ?? '', serviceAccount: s.metadata?.annotations?.['kubernetes.io/service-account.name'], token };
    },
    async createTokenSecret(namespace, name, serviceAccount, labels) {
      const body = {
        metadata: { name, namespace, labels, annotations: { 'kubernetes.io/service-account.name': serviceAccount } },
        type: 'kubernetes.io/service-account-token',
      };
      await attempt('create', `Secret ${namespace}/${name}`, () => core.createNamespacedSecret({ namespace, body }));
    },
    async readClusterRole(name) {
      const r = await readOrUndefined(`ClusterRole ${name}`, () => rbac.readClusterRole({ name }));
      return r?.rules?.map((x) => ({ apiGroups: x.apiGroups ?? [], resources: x.resources ?? [], verbs: x.verbs }));
    },
    async writeClusterRole(name, rules, labels, exists) {
      const body = { metadata: { name, labels }, rules };
      await attempt(exists ? 'update' : 'create', `ClusterRole ${name}`, () => (exists ? rbac.replaceClusterRole({ name, body }) : rbac.createClusterRole({ body })));
    },
    async readClusterRoleBinding(name) {
      const b = await readOrUndefined(`ClusterRoleBinding ${name}`, () => rbac.readClusterRoleBinding({ name }));
      return b && { role: `${b.roleRef.kind}/${b.roleRef.name}`, subjects: (b.subjects ?? []).map(subject) };
    },
    async writeClusterRoleBinding(name, b, labels, exists) {
      const [kind, roleName] = b.role.split('/') as [string, string];
      const body = {
        metadata: { name, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name: roleName },
        subjects: b.subjects.map((s) => {
          const [namespace, sa] = s.split('/') as [string, string];
          return { kind: 'ServiceAccount', namespace, name: sa };
        }),
      };
      await attempt(exists ? 'update' : 'create', `ClusterRoleBinding ${name}`, () =>
        exists ? rbac.replaceClusterRoleBinding({ name, body }) : rbac.createClusterRoleBinding({ body }),
      );
    },
    async requestToken(namespace, name, audience, seconds) {
      const res = await attempt('create', `TokenRequest for ServiceAccount ${namespace}/${name}`, () =>
        core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [audience], expirationSeconds: seconds } } }),
      );
      const token = res.status?.token;
      if (!token) throw new AgentError('RUNTIME', `Kubernetes TokenRequest for ${namespace}/${name} answered without a token`);
      return token;
    },
  };
}
