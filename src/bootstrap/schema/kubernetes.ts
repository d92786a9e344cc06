// The Kubernetes side of the bootstrap config: the auth mount with its role
// and reviewer, and the outputs written into clusters (trust-bundle
// ConfigMap, istiod's plug-in CA Secret).

import { z } from 'zod';
import { MESH_DEFAULTS } from '../../config/defaults.ts';
import { DEFAULT_NAMESPACE_LABEL, dnsLabel, duration, name, parseSelector, renewBefore, type AddProblem } from './common.ts';

export const kubernetesAuthSchema = z.strictObject({
  mount: name.default(MESH_DEFAULTS.authMount),
  /** API server URL as Vault reaches it; default: the kubeconfig's cluster */
  host: z.string().url().optional(),
  /** CA of the API server; default: the kubeconfig's cluster CA */
  caFile: z.string().min(1).optional(),
  /** a token Vault uses for TokenReview (system:auth-delegator); omit when Vault runs in the cluster */
  reviewerJwtFile: z.string().min(1).optional(),
  /**
   * Vault runs in this cluster and reviews tokens with its own pod token. Bootstrap
   * cannot see that; without it, a namespace selector and no reviewer JWT is
   * refused (Vault outside would answer every login 403). See steps/reviewer.ts.
   */
  vaultInCluster: z.boolean().default(false),
  /** create: bootstrap makes the reviewer ServiceAccount (system:auth-delegator + get namespaces) and its long-lived token Secret, and gives Vault that token */
  tokenReviewer: z
    .strictObject({
      create: z.boolean().default(false),
      /** kube-system: present everywhere, and only cluster admins read its Secrets */
      namespace: dnsLabel.default('kube-system'),
      name: dnsLabel.default('vault-pki-agent-token-reviewer'),
    })
    .prefault({}),
  role: z
    .strictObject({
      name: name.default(MESH_DEFAULTS.authRole),
      audience: z.string().min(1).default(MESH_DEFAULTS.tokenAudience),
      serviceAccounts: z.array(z.string().min(1)).min(1).default(['*']),
      /** explicit namespaces; when empty, namespaceSelector decides */
      namespaces: z.array(z.string().min(1)).default([]),
      /**
       * label selector (k=v[,k=v]) of the namespaces whose service accounts may log in;
       * defaults to the opt-in label only when no namespaces are listed (Vault ORs the two)
       */
      namespaceSelector: z.string().optional(),
      tokenTtl: duration('1h'),
      tokenType: z.enum(['batch', 'service']).default('batch'),
    })
    .transform((r) => ({ ...r, namespaceSelector: r.namespaceSelector ?? (r.namespaces.length ? '' : DEFAULT_NAMESPACE_LABEL) }))
    .prefault({}),
  policy: name.default('vault-pki-agent-workload'),
});

export const trustBundleSchema = z.strictObject({
  enabled: z.boolean().default(false),
  configMapName: dnsLabel.default('vault-pki-agent-trust-bundle'),
  namespaceSelector: z.string().default(DEFAULT_NAMESPACE_LABEL),
});

export const istiodCaSchema = z.strictObject({
  enabled: z.boolean().default(false),
  namespace: dnsLabel.default('istio-system'),
  secretName: dnsLabel.default('cacerts'),
  commonName: z.string().min(1).default('istiod plug-in intermediate CA'),
  ttl: duration('8760h'),
  renewBefore,
});

type Kube = { kubernetesAuth: z.output<typeof kubernetesAuthSchema>; trustBundle: z.output<typeof trustBundleSchema> };

/** Bindings that are never a default, a reviewer named twice, selectors that do not parse. */
export function kubernetesProblems(c: Kube, add: AddProblem): void {
  const role = c.kubernetesAuth.role;
  if (role.namespaces.length === 0 && !role.namespaceSelector.trim())
    add(['kubernetesAuth', 'role'], 'set namespaces or namespaceSelector: binding every namespace is never a default');
  if (role.namespaces.includes('*') && role.serviceAccounts.includes('*'))
    add(['kubernetesAuth', 'role'], 'namespaces ["*"] with serviceAccounts ["*"] lets every pod of the cluster log in; list namespaces or use namespaceSelector');
  if (c.kubernetesAuth.tokenReviewer.create && c.kubernetesAuth.reviewerJwtFile)
    add(['kubernetesAuth', 'tokenReviewer', 'create'], 'set either tokenReviewer.create or reviewerJwtFile, not both: both name the token Vault reviews with');
  for (const [path, sel] of [
    [['kubernetesAuth', 'role', 'namespaceSelector'], role.namespaceSelector],
    [['trustBundle', 'namespaceSelector'], c.trustBundle.namespaceSelector],
  ] as const) {
    if (sel.trim() && !parseSelector(sel)) add([...path], `"${sel}" is not a label selector of the form key=value[,key=value]`);
  }
}
