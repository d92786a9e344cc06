// The few Kubernetes calls bootstrap makes, behind a narrow interface, with
// @kubernetes/client-node loaded only when a step needs it (it is the
// heaviest import of the project; the agent never loads this file).

import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeconfigError } from '../config/kubeconfig-error.ts';
import { AgentError } from '../errors.ts';

export interface KubeObject {
  data: Record<string, string>;
  labels: Record<string, string>;
  resourceVersion?: string | undefined;
  /** Secrets only: the Secret type (immutable once created); written as Opaque when unset */
  type?: string | undefined;
}

export interface KubeApi {
  /** the API server URL and CA of the kubeconfig's current cluster */
  cluster(): { host: string; caPem: string | undefined };
  namespaces(labelSelector: string): Promise<string[]>;
  /** one namespace by name: needs only `get` on it, where listing needs `list` on all */
  namespaceExists(name: string): Promise<boolean>;
  readConfigMap(namespace: string, name: string): Promise<KubeObject | undefined>;
  writeConfigMap(namespace: string, name: string, obj: KubeObject, exists: boolean): Promise<void>;
  /** Secret data decoded to text */
  readSecret(namespace: string, name: string): Promise<KubeObject | undefined>;
  writeSecret(namespace: string, name: string, obj: KubeObject, exists: boolean): Promise<void>;
  /** the loaded connection, for the account and RBAC calls of kube-accounts.ts */
  readonly kubeConfig: KubeConfig;
}

export function kubeError(op: string, target: string, err: unknown): AgentError {
  const code = (err as { code?: number }).code;
  const hint =
    code === 403
      ? 'grant the bootstrap service account this verb in its Role/ClusterRole'
      : code === undefined
        ? 'check --kubeconfig and that the API server is reachable'
        : 'see the API server message';
  const body = (err as { body?: unknown }).body;
  // one line: the Status body ends in a newline, a client error's message has several
  const why = String((typeof body === 'string' ? body : (err as Error).message) ?? '').replace(/\s+/g, ' ').trim().slice(0, 300);
  return new AgentError('RUNTIME', `Kubernetes ${op} ${target} failed${code ? ` (${code})` : ''}: ${why} — ${hint}`, { cause: err });
}

/** `context`: one of the kubeconfig's contexts (a `clusters:` entry's), else its current one. */
export async function loadKube(kubeconfig: string | undefined, context?: string): Promise<KubeApi> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  try {
    if (kubeconfig) kc.loadFromFile(kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new AgentError('CONFIG', `kubeconfig ${kubeconfig ?? '(default)'}: cannot load it (${kubeconfigError(err)}); pass --kubeconfig`, { cause: err });
  }
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new AgentError('CONFIG', `kubeconfig ${kubeconfig ?? '(default)'} has no context "${context}" (it has: ${kc.getContexts().map((c) => c.name).join(', ') || 'none'}); fix the cluster's context`);
    }
    kc.setCurrentContext(context);
  }
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const absent = (err: unknown) => (err as { code?: number }).code === 404;
  const decode = (d: Record<string, string> | undefined) =>
    Object.fromEntries(Object.entries(d ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]));
  const encode = (d: Record<string, string>) => Object.fromEntries(Object.entries(d).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));

  return {
    kubeConfig: kc,
    cluster() {
      const c = kc.getCurrentCluster();
      if (!c) throw new AgentError('CONFIG', `kubeconfig ${kubeconfig ?? '(default)'} has no current cluster; set kubernetesAuth.host and caFile`);
      const caPem = c.caData ? Buffer.from(c.caData, 'base64').toString('utf8') : c.caFile ? readFileSync(c.caFile, 'utf8') : undefined;
      return { host: c.server, caPem };
    },
    async namespaces(labelSelector) {
      try {
        const list = await core.listNamespace({ labelSelector });
        return list.items.map((n) => n.metadata!.name!).sort();
      } catch (err) {
        throw kubeError('list', `namespaces (selector ${labelSelector})`, err);
      }
    },
    async namespaceExists(name) {
      try {
        await core.readNamespace({ name });
        return true;
      } catch (err) {
        if (absent(err)) return false;
        throw kubeError('get', `namespace ${name}`, err);
      }
    },
    async readConfigMap(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ name, namespace });
        return { data: cm.data ?? {}, labels: cm.metadata?.labels ?? {}, resourceVersion: cm.metadata?.resourceVersion };
      } catch (err) {
        if (absent(err)) return undefined;
        throw kubeError('get', `ConfigMap ${namespace}/${name}`, err);
      }
    },
    async writeConfigMap(namespace, name, obj, exists) {
      const body = { metadata: { name, namespace, labels: obj.labels, resourceVersion: obj.resourceVersion }, data: obj.data };
      try {
        if (exists) await core.replaceNamespacedConfigMap({ name, namespace, body });
        else await core.createNamespacedConfigMap({ namespace, body });
      } catch (err) {
        throw kubeError(exists ? 'update' : 'create', `ConfigMap ${namespace}/${name}`, err);
      }
    },
    async readSecret(namespace, name) {
      try {
        const s = await core.readNamespacedSecret({ name, namespace });
        return { data: decode(s.data), labels: s.metadata?.labels ?? {}, resourceVersion: s.metadata?.resourceVersion, type: s.type };
      } catch (err) {
        if (absent(err)) return undefined;
        throw kubeError('get', `Secret ${namespace}/${name}`, err);
      }
    },
    async writeSecret(namespace, name, obj, exists) {
      const body = { metadata: { name, namespace, labels: obj.labels, resourceVersion: obj.resourceVersion }, type: obj.type ?? 'Opaque', data: encode(obj.data) };
      try {
        if (exists) await core.replaceNamespacedSecret({ name, namespace, body });
        else await core.createNamespacedSecret({ namespace, body });
      } catch (err) {
        // the API server's answer can echo the object: never let key material reach a message.
        // The body (its Status, one line) is kept, redacted: kubeError quotes it, not the multi-line message.
        const e = err as { message?: string; code?: number; body?: unknown };
        const redact = (t: string) => t.replace(/-----BEGIN[\s\S]*?-----END[^-]*-----/g, '[pem]');
        const safe = Object.assign(new Error(redact(e.message ?? '')), { code: e.code, body: typeof e.body === 'string' ? redact(e.body) : undefined });
        throw kubeError(exists ? 'update' : 'create', `Secret ${namespace}/${name}`, safe);
      }
    },
  };
}
