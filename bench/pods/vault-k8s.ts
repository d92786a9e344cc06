// HashiCorp's injector (vault-k8s v1.6.2) in the node's cluster, shaped after
// its own deploy/ manifests at that tag: a ServiceAccount with the
// ClusterRole it needs at start (it lists and watches
// MutatingWebhookConfigurations), a Deployment configured by AGENT_INJECT_*
// variables, a Service, and a MutatingWebhookConfiguration. Two changes, both
// because there is no registry and no DNS here: TLS files we make (the
// apiserver checks the service's DNS name while calling the pod's endpoint),
// and one replica without leader election (nothing to elect for one pod).
// The containers it injects get the resources ours get (CPU request 10m, no
// CPU limit, memory 64Mi/128Mi): its defaults (250m request, 500m limit)
// fit only seven such pods on a 2-core node and throttle Vault Agent's start,
// which would measure the defaults rather than the software.
// Its webhook sees only the benchmark's vault-k8s namespace, and fails
// closed, so a pod it did not inject is refused rather than timed as injected.
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import type { KubeApi } from './api.ts';

export const NAME = 'vault-agent-injector';
const APP_LABEL = { 'app.kubernetes.io/name': 'vault-injector', 'app.kubernetes.io/instance': 'vpa-bench' };

export interface VaultK8sOptions {
  /** namespace the injector runs in */
  ns: string;
  /** namespace whose pods it injects */
  targetNs: string;
  /** cluster-scoped names carry it, so two runs never share an object */
  run: string;
  injectorImage: string;
  agentImage: string;
  vaultAddr: string;
}

function clusterName(o: { run: string }): string {
  return `vpa-bench-vault-k8s-${o.run}`;
}

/** API paths of the cluster-scoped objects a run makes, to delete at the end (its namespace holds the rest). */
export function vaultK8sClusterObjects(run: string): string[] {
  const name = clusterName({ run });
  return [
    `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`,
    `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${name}`,
    `/apis/rbac.authorization.k8s.io/v1/clusterroles/${name}`,
  ];
}

export async function installVaultK8s(api: KubeApi, o: VaultK8sOptions): Promise<void> {
  const svcHosts = [NAME, `${NAME}.${o.ns}`, `${NAME}.${o.ns}.svc`];
  const ca = await createCa({ commonName: 'vault-k8s bench CA', lifetimeMs: 24 * 3_600_000 });
  const serving = await issueServing(ca, { hosts: svcHosts, lifetimeMs: 24 * 3_600_000 });
  const name = clusterName(o);
  const post = (path: string, body: object) => api.request('POST', path, body);

  await post(`/api/v1/namespaces/${o.ns}/serviceaccounts`, { metadata: { name: NAME, labels: APP_LABEL } });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
    metadata: { name, labels: APP_LABEL },
    rules: [
      { apiGroups: ['admissionregistration.k8s.io'], resources: ['mutatingwebhookconfigurations'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['nodes'], verbs: ['get'] },
    ],
  });
  await post('/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    metadata: { name, labels: APP_LABEL },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
    subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: o.ns }],
  });
  await post(`/api/v1/namespaces/${o.ns}/secrets`, {
    metadata: { name: `${NAME}-tls` },
    type: 'kubernetes.io/tls',
    stringData: { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem },
  });
  const env: Record<string, string> = {
    AGENT_INJECT_LISTEN: ':8080',
    AGENT_INJECT_LOG_LEVEL: 'info',
    AGENT_INJECT_LOG_FORMAT: 'standard',
    AGENT_INJECT_VAULT_ADDR: o.vaultAddr,
    AGENT_INJECT_VAULT_AUTH_PATH: 'auth/kubernetes',
    AGENT_INJECT_VAULT_IMAGE: o.agentImage,
    AGENT_INJECT_TLS_CERT_FILE: '/etc/webhook/tls/tls.crt',
    AGENT_INJECT_TLS_KEY_FILE: '/etc/webhook/tls/tls.key',
    AGENT_INJECT_USE_LEADER_ELECTOR: 'false',
    AGENT_INJECT_DEFAULT_TEMPLATE: 'map',
    AGENT_INJECT_CPU_REQUEST: '10m',
    AGENT_INJECT_MEM_REQUEST: '64Mi',
    AGENT_INJECT_MEM_LIMIT: '128Mi',
  };
  const probe = { httpGet: { path: '/health/ready', port: 8080, scheme: 'HTTPS' }, failureThreshold: 2, initialDelaySeconds: 1, periodSeconds: 2, timeoutSeconds: 5 };
  await post(`/apis/apps/v1/namespaces/${o.ns}/deployments`, {
    metadata: { name: NAME, labels: APP_LABEL },
    spec: {
      replicas: 1,
      selector: { matchLabels: APP_LABEL },
      template: {
        metadata: { labels: APP_LABEL },
        spec: {
          serviceAccountName: NAME,
          containers: [
            {
              name: 'sidecar-injector',
              image: o.injectorImage,
              imagePullPolicy: 'Never',
              // An empty AGENT_INJECT_CPU_LIMIT means "keep the default"; the flag can say "none".
              args: ['agent-inject', '-cpu-limit='],
              env: [
                { name: 'NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                ...Object.entries(env).map(([k, v]) => ({ name: k, value: v })),
              ],
              ports: [{ name: 'https', containerPort: 8080 }],
              volumeMounts: [{ name: 'tls', mountPath: '/etc/webhook/tls', readOnly: true }],
              readinessProbe: probe,
              livenessProbe: probe,
            },
          ],
          volumes: [{ name: 'tls', secret: { secretName: `${NAME}-tls` } }],
        },
      },
    },
  });
  await post(`/api/v1/namespaces/${o.ns}/services`, {
    metadata: { name: NAME, labels: APP_LABEL },
    spec: { selector: APP_LABEL, ports: [{ name: 'https', port: 443, targetPort: 8080 }] },
  });
  await post('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
    metadata: { name, labels: APP_LABEL },
    webhooks: [
      {
        name: 'vault.hashicorp.com',
        sideEffects: 'None',
        admissionReviewVersions: ['v1', 'v1beta1'],
        clientConfig: { service: { name: NAME, namespace: o.ns, path: '/mutate', port: 443 }, caBundle: Buffer.from(ca.certPem).toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': o.targetNs } },
        failurePolicy: 'Fail',
      },
    ],
  });
}

/** Resolves once the injector's pod is Ready and its Service has an endpoint (the apiserver calls that address). */
export async function vaultK8sReady(api: KubeApi, ns: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const slices = await api.request(`GET`, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3D${NAME}`);
    const ready = (slices.items ?? []).flatMap((s: any) => s.endpoints ?? []).filter((e: any) => e.conditions?.ready);
    if (ready.length > 0) return;
    const pods = await api.request('GET', `/api/v1/namespaces/${ns}/pods`);
    last = JSON.stringify(pods.items?.map((p: any) => ({ name: p.metadata.name, phase: p.status.phase, containers: p.status.containerStatuses })));
    await new Promise((r) => setTimeout(r, 1_000));
  }
  throw new Error(`vault-k8s in ${ns} did not become ready within ${timeoutMs / 1000}s; its pods: ${last}`);
}
