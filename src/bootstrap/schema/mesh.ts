// The bootstrap config's sections for more than one Istio cluster: the
// `clusters:` list (checked in src/bootstrap/clusters.ts, beside the names it
// derives) and Linkerd's external identity issuer.

import { z } from 'zod';
import { formatDuration } from '../../config/duration.ts';
import { clusterOverrides } from '../clusters.ts';
import { dnsLabel, duration, name, renewBefore, trustDomain, type AddProblem } from './common.ts';

/**
 * Linkerd's external identity issuer (docs/bootstrap.md, "Linkerd"). The object
 * names are Linkerd's own (its chart mounts them by name), so they are not settings.
 */
export const linkerdSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Linkerd's control-plane namespace; it must exist before bootstrap writes into it */
  namespace: dnsLabel.default('linkerd'),
  /** Linkerd's identityTrustDomain; default: clusterDomain, as in Linkerd's chart */
  trustDomain: trustDomain.optional(),
  ttl: duration('8760h'),
  renewBefore,
});

/**
 * One cluster of a central + edge setup (docs/bootstrap.md, "Many clusters"):
 * each gets its own auth mount and intermediate under the shared root; names
 * default to the single-cluster ones suffixed with the cluster's name.
 */
export const clusterSchema = z.strictObject({
  name: dnsLabel,
  /** this cluster's kubeconfig (its outputs; its API address and CA unless host is set); at most one cluster omits it and uses --kubeconfig/KUBECONFIG/in-cluster */
  kubeconfig: z.string().min(1).optional(),
  /** a context of that kubeconfig; default: its current context */
  context: z.string().min(1).optional(),
  /** API server URL as Vault reaches it; default: the kubeconfig's cluster */
  host: z.string().url().optional(),
  /** CA of that API server; default: the kubeconfig's cluster CA */
  caFile: z.string().min(1).optional(),
  /** a token of THIS cluster Vault uses for TokenReview; omit when Vault may use the caller's own token */
  reviewerJwtFile: z.string().min(1).optional(),
  /** default: the top-level trustDomain (Istio multi-primary shares one) */
  trustDomain: trustDomain.optional(),
  /** default: <kubernetesAuth.mount>-<name>, i.e. kubernetes-<name> */
  authMount: name.optional(),
  /** default: <intermediate.mount>_<name>, i.e. pki_istio_<name> */
  intermediateMount: name.optional(),
  /** default: <kubernetesAuth.policy>-<name> */
  policy: name.optional(),
  /** overrides of kubernetesAuth.role for this cluster's auth role */
  role: z
    .strictObject({
      namespaces: z.array(z.string().min(1)).optional(),
      serviceAccounts: z.array(z.string().min(1)).min(1).optional(),
      namespaceSelector: z.string().optional(),
    })
    .optional(),
  /** default: trustBundle.enabled / istiodCa.enabled */
  trustBundle: z.boolean().optional(),
  istiodCa: z.boolean().optional(),
  /** vaultInCluster, tokenReviewer, linkerd: defined beside the view that applies them */
  ...clusterOverrides,
});

type Mesh = {
  root: { mode: string; ttl: number };
  linkerd: z.output<typeof linkerdSchema>;
  clusters: { linkerd?: boolean | undefined }[];
};

/**
 * The Linkerd issuer is signed by the root and cannot outlive it. A root made in
 * the same run lives root.ttl, so this is known before the first write; an older
 * root's remaining life is checked at plan time (steps/linkerd.ts).
 */
export function meshProblems(c: Mesh, add: AddProblem): void {
  const enabled = c.clusters.length ? c.clusters.some((k) => k.linkerd ?? c.linkerd.enabled) : c.linkerd.enabled;
  if (!enabled || c.root.mode !== 'internal' || c.linkerd.ttl < c.root.ttl) return;
  add(['linkerd', 'ttl'], `${formatDuration(c.linkerd.ttl)} is not shorter than root.ttl ${formatDuration(c.root.ttl)}: the issuer cannot outlive the root that signs it; shorten linkerd.ttl`);
}
