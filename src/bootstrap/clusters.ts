// Many clusters under one root: the `clusters:` list becomes one view of the
// config per cluster (its auth mount, intermediate, policy, trust domain,
// Kubernetes connection), which the single-cluster steps read unchanged; plan
// lines then name the cluster. The list's own checks live here, beside the
// names they check.

import { z } from 'zod';
import { deepFreeze } from '../config/schema.ts';
import { AgentError } from '../errors.ts';
import type { BootstrapConfig, ParsedConfig } from './config.ts';
import { loadKube, type KubeApi } from './kube.ts';
import { dnsLabel, parseSelector } from './schema/common.ts';
import type { Context, Step } from './plan.ts';
import type { GuardedStep } from './rotate/kube-access.ts';

/**
 * What a cluster's entry may set beyond its names and connection (spread into
 * the entry's schema, schema/mesh.ts); unset, the top-level value holds.
 * Kept here, beside view() that applies them. No config.ts import at module
 * level: schema/mesh.ts imports this file while config.ts is loading.
 */
export const clusterOverrides = {
  /** Vault runs in THIS cluster and reviews its tokens with its own pod token (kubernetesAuth.vaultInCluster) */
  vaultInCluster: z.boolean().optional(),
  /** kubernetesAuth.tokenReviewer for this cluster: bootstrap makes the reviewer in it, through its connection */
  tokenReviewer: z.strictObject({ create: z.boolean().optional(), namespace: dnsLabel.optional(), name: dnsLabel.optional() }).optional(),
  /** Linkerd's issuer and anchors in this cluster; default linkerd.enabled */
  linkerd: z.boolean().optional(),
};

type Entry = ParsedConfig['clusters'][number];
type Names = Pick<ParsedConfig, 'intermediate' | 'kubernetesAuth'>;

/** A cluster's Vault names: the single-cluster ones suffixed with its name unless it overrides them. */
export function clusterNames(c: Names, k: Entry): { intermediateMount: string; authMount: string; policy: string } {
  return {
    intermediateMount: k.intermediateMount ?? `${c.intermediate.mount}_${k.name}`,
    authMount: k.authMount ?? `${c.kubernetesAuth.mount}-${k.name}`,
    policy: k.policy ?? `${c.kubernetesAuth.policy}-${k.name}`,
  };
}

/** What only a clusters: list can get wrong (called by the config's validation; every problem is added). */
export function clusterProblems(c: ParsedConfig, add: (path: (string | number)[], message: string) => void): void {
  if (!c.clusters.length) return;
  if (c.root.mode !== 'internal') add(['clusters'], "needs root.mode internal: each cluster's intermediate is signed by the root mount");
  for (const key of ['host', 'caFile', 'reviewerJwtFile'] as const) {
    if (c.kubernetesAuth[key] !== undefined) add(['kubernetesAuth', key], `with clusters:, set ${key} on each cluster instead (it names one cluster's API server)`);
  }
  const seen = new Map<string, string>();
  const unique = (path: (string | number)[], what: string, value: string) => {
    const owner = seen.get(`${what}:${value}`);
    if (owner) add(path, `${what} "${value}" is also used by ${owner}; each cluster needs its own`);
    else seen.set(`${what}:${value}`, path.slice(0, 2).join('.'));
  };
  let defaultConnection = 0;
  c.clusters.forEach((k, n) => {
    const at = ['clusters', n];
    const names = clusterNames(c, k);
    unique([...at, 'name'], 'name', k.name);
    unique([...at, 'intermediateMount'], 'mount', names.intermediateMount);
    unique([...at, 'authMount'], 'auth mount', names.authMount);
    unique([...at, 'policy'], 'policy', names.policy);
    if (names.intermediateMount === c.root.mount) add([...at, 'intermediateMount'], `must differ from root.mount "${c.root.mount}"`);
    if (k.context && !k.kubeconfig) add([...at, 'context'], 'needs kubeconfig (the file the context is in)');
    if (!k.kubeconfig) defaultConnection++;
    const role = viewRole(c.kubernetesAuth.role, k);
    if (role.namespaces.includes('*') && role.serviceAccounts.includes('*'))
      add([...at, 'role'], 'namespaces ["*"] with serviceAccounts ["*"] lets every pod of the cluster log in; list namespaces or use namespaceSelector');
    if (!role.namespaces.length && !role.namespaceSelector.trim()) add([...at, 'role'], 'set namespaces or namespaceSelector: binding every namespace is never a default');
    if ((k.tokenReviewer?.create ?? c.kubernetesAuth.tokenReviewer.create) && k.reviewerJwtFile)
      add([...at, 'tokenReviewer', 'create'], 'set either tokenReviewer.create or reviewerJwtFile for this cluster, not both: both name the token Vault reviews with');
    const sel = k.role?.namespaceSelector;
    if (sel?.trim() && !parseSelector(sel)) add([...at, 'role', 'namespaceSelector'], `"${sel}" is not a label selector of the form key=value[,key=value]`);
  });
  if (defaultConnection > 1) {
    add(['clusters'], `${defaultConnection} clusters have no kubeconfig; only one may use the default connection (--kubeconfig, KUBECONFIG or in-cluster)`);
  }
}

/** The auth role with a cluster's overrides; listing namespaces drops the inherited selector, as at the top level. */
function viewRole(r: ParsedConfig['kubernetesAuth']['role'], k: Entry): ParsedConfig['kubernetesAuth']['role'] {
  const o = k.role ?? {};
  return {
    ...r,
    namespaces: o.namespaces ?? r.namespaces,
    serviceAccounts: o.serviceAccounts ?? r.serviceAccounts,
    namespaceSelector: o.namespaceSelector ?? (o.namespaces?.length ? '' : r.namespaceSelector),
  };
}

export interface ClusterView {
  name: string;
  /** the config as the single-cluster steps read it, with this cluster's names and outputs */
  config: BootstrapConfig;
  /** unset: the default connection (--kubeconfig, KUBECONFIG, in-cluster) */
  kubeconfig?: string | undefined;
  context?: string | undefined;
}

function view(config: BootstrapConfig, k: Entry): ClusterView {
  const names = clusterNames(config, k);
  const auth = config.kubernetesAuth;
  const projected: BootstrapConfig = {
    ...config,
    trustDomain: k.trustDomain ?? config.trustDomain,
    // a subject of its own: the intermediates of two clusters must not look alike in a chain
    intermediate: { ...config.intermediate, mount: names.intermediateMount, commonName: `${config.intermediate.commonName} ${k.name}` },
    kubernetesAuth: {
      ...auth,
      mount: names.authMount,
      policy: names.policy,
      host: k.host,
      caFile: k.caFile,
      reviewerJwtFile: k.reviewerJwtFile,
      vaultInCluster: k.vaultInCluster ?? auth.vaultInCluster,
      tokenReviewer: { ...auth.tokenReviewer, ...defined(k.tokenReviewer ?? {}) },
      role: viewRole(auth.role, k),
    },
    linkerd: { ...config.linkerd, enabled: k.linkerd ?? config.linkerd.enabled },
    trustBundle: { ...config.trustBundle, enabled: k.trustBundle ?? config.trustBundle.enabled },
    istiodCa: { ...config.istiodCa, enabled: k.istiodCa ?? config.istiodCa.enabled, commonName: `${config.istiodCa.commonName} ${k.name}` },
    clusters: [],
  };
  return { name: k.name, config: deepFreeze(projected), kubeconfig: k.kubeconfig, context: k.context };
}

/** The keys of `o` that are set: an override left out keeps the inherited value. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function clusterViews(config: BootstrapConfig): ClusterView[] {
  return config.clusters.map((k) => view(config, k));
}

/** One cluster's view by name (`rotate --cluster`); a name not in the list is a CONFIG error naming the ones that are. */
export function clusterView(config: BootstrapConfig, name: string): ClusterView {
  const k = config.clusters.find((c) => c.name === name);
  if (!k) {
    const known = config.clusters.map((c) => c.name);
    const why = known.length ? `not in the config's clusters (${known.join(', ')}); use one of those names` : 'the config has no clusters: list; drop --cluster';
    throw new AgentError('CONFIG', `--cluster ${name}: ${why}`);
  }
  return view(config, k);
}

/** The view's Kubernetes connection: its own kubeconfig/context, else the run's default one. */
export function clusterKube(v: ClusterView, fallback: () => Promise<KubeApi>): () => Promise<KubeApi> {
  if (!v.kubeconfig) return fallback;
  let kube: Promise<KubeApi> | undefined;
  return () => (kube ??= loadKube(v.kubeconfig, v.context));
}

/**
 * The steps as this cluster sees them: each reads the cluster's view and its
 * own state (the accessor of ITS auth mount), and its title names the cluster.
 */
export function scopeSteps(v: ClusterView, steps: Step[]): Step[] {
  const inner = new WeakMap<Context, Context>();
  const enter = (ctx: Context): Context => {
    let c = inner.get(ctx);
    if (!c) inner.set(ctx, (c = { ...ctx, config: v.config, kube: clusterKube(v, ctx.kube), state: {} }));
    return c;
  };
  return steps.map((step) => {
    const scoped: Step = {
      title: `cluster ${v.name}: ${step.title}`,
      async check(ctx) {
        const c = enter(ctx);
        const check = await step.check(c);
        const apply = check.apply;
        if (!apply) return check;
        return {
          ...check,
          apply: async () => {
            const note = await apply();
            if (c.state.halt) ctx.state.halt = c.state.halt;
            return note;
          },
        };
      },
    };
    // a rotation's RBAC pre-flight must ask THIS cluster's API server
    if ('deniedAccess' in step) {
      (scoped as GuardedStep).deniedAccess = async (ctx) => (await (step as GuardedStep).deniedAccess(enter(ctx))).map((a) => ({ ...a, cluster: v.name }));
    }
    return scoped;
  });
}
