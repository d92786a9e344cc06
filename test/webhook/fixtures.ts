// Pods and AdmissionReviews shared by the webhook tests and the benchmark.
import type { V1Pod } from '@kubernetes/client-node';
import { DEFAULTS, type WebhookDefaults } from '../../src/webhook/defaults.ts';

export const TEST_DEFAULTS: WebhookDefaults = Object.freeze({
  ...DEFAULTS,
  image: 'ghcr.io/example/vault-pki-agent:0.1.0',
  vaultAddr: 'https://vault.vault.svc:8200',
  vaultCaConfigMap: { name: 'vault-ca', key: 'ca.crt' },
});

/** A typical meshed Deployment pod: one app container, annotated for injection. */
export function typicalPod(annotations: Record<string, string> = {}, extra: Partial<V1Pod['spec']> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-7d9f8-',
      labels: { app: 'web' },
      annotations: { 'vault-pki-agent.io/inject': 'true', ...annotations },
    },
    spec: {
      serviceAccountName: 'web',
      containers: [
        {
          name: 'web',
          image: 'nginx:1.27',
          ports: [{ containerPort: 8080 }],
          volumeMounts: [{ name: 'kube-api-access-x', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
        },
      ],
      volumes: [{ name: 'kube-api-access-x', projected: { sources: [{ serviceAccountToken: { path: 'token', expirationSeconds: 3607 } }] } }],
      ...extra,
    } as V1Pod['spec'],
  };
}

export function admissionReview(pod: V1Pod, opts: { namespace?: string; uid?: string; operation?: string } = {}): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: opts.uid ?? '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: opts.namespace ?? 'shop',
      operation: opts.operation ?? 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller', groups: ['system:serviceaccounts'] },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}
