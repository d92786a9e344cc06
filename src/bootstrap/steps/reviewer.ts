// Vault's token reviewer. Vault outside the cluster has no pod token of its own
// to call TokenReview with, and a namespace selector makes it read namespaces
// first: without a reviewer JWT every login is then refused (403 "TokenReviewer
// JWT needs to be configured to use namespace selectors"). Bootstrap refuses
// that config up front, or, asked to (tokenReviewer.create), makes the reviewer
// ServiceAccount with exactly system:auth-delegator + get on namespaces and a
// long-lived token Secret, and hands its token to the auth config step.

import { setTimeout as sleep } from 'node:timers/promises';
import { AgentError } from '../../errors.ts';
import { clusterViews } from '../clusters.ts';
import type { BootstrapConfig } from '../config.ts';
import { kubeAccounts, type Binding, type KubeAccounts, type Rule } from '../kube-accounts.ts';
import type { Check, Context, Step } from '../plan.ts';

const LABELS = { 'app.kubernetes.io/managed-by': 'vault-pki-agent-bootstrap' };
/** Vault's namespace selector reads the namespace's labels; nothing else is needed beyond TokenReview. */
export const NAMESPACE_RULES: Rule[] = [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }];
/** How long the token controller (kube-controller-manager) may take to fill a new token Secret. */
const TOKEN_WAIT_MS = 30_000;

/**
 * Why every login would fail with this config, naming the fixes; undefined when
 * a login can work. Vault's placement cannot be seen from here, so a namespace
 * selector with no reviewer JWT is refused unless the config says Vault runs in
 * the cluster (`where`: the config path, e.g. `clusters[1]` for one cluster).
 */
export function reviewerProblem(config: BootstrapConfig, where = 'kubernetesAuth'): string | undefined {
  const k = config.kubernetesAuth;
  if (!k.role.namespaceSelector.trim() || k.reviewerJwtFile || k.tokenReviewer.create || k.vaultInCluster) return undefined;
  return (
    `${where}: the namespace selector "${k.role.namespaceSelector}" needs a reviewer JWT when Vault runs outside the cluster ` +
    `(Vault would refuse every login: "TokenReviewer JWT needs to be configured to use namespace selectors"); nothing was written. ` +
    `Set ${where}.tokenReviewer.create: true (bootstrap makes the ServiceAccount and its token; needs a kubeconfig), ` +
    `or ${where}.reviewerJwtFile: PATH (a token bound to system:auth-delegator with get on namespaces), ` +
    `or ${where}.vaultInCluster: true (Vault runs in this cluster and reviews with its own token), ` +
    `or list kubernetesAuth.role.namespaces instead of a selector`
  );
}

const names = (config: BootstrapConfig) => {
  const t = config.kubernetesAuth.tokenReviewer;
  return { namespace: t.namespace, name: t.name, sa: `${t.namespace}/${t.name}` };
};

/** The reviewer's objects in creation order (the Secret needs its ServiceAccount); none unless tokenReviewer.create. */
export function reviewerSteps(config: BootstrapConfig): Step[] {
  if (!config.kubernetesAuth.tokenReviewer.create) return [];
  const n = names(config);
  const accounts = new WeakMap<Context, Promise<KubeAccounts>>();
  const api = async (ctx: Context) => {
    let a = accounts.get(ctx);
    if (!a) accounts.set(ctx, (a = ctx.kube().then(kubeAccounts)));
    return a;
  };
  return [
    {
      title: `reviewer ServiceAccount ${n.sa}`,
      async check(ctx): Promise<Check> {
        const { namespace, name } = names(ctx.config);
        const k = await api(ctx);
        if (await k.serviceAccountExists(namespace, name)) return { action: 'unchanged' };
        return { action: 'create', detail: 'Vault reviews workload tokens as this account', apply: () => k.createServiceAccount(namespace, name, LABELS) };
      },
    },
    {
      title: `reviewer ClusterRole ${n.name}-namespaces`,
      async check(ctx): Promise<Check> {
        const k = await api(ctx);
        const role = `${names(ctx.config).name}-namespaces`;
        const current = await k.readClusterRole(role);
        const apply = () => k.writeClusterRole(role, NAMESPACE_RULES, LABELS, current !== undefined);
        if (!current) return { action: 'create', detail: 'get on namespaces only', apply };
        return same(current, NAMESPACE_RULES) ? { action: 'unchanged' } : { action: 'change', fields: ['rules'], apply };
      },
    },
    bindingStep(n.name, 'auth-delegator', () => 'ClusterRole/system:auth-delegator', api),
    bindingStep(n.name, 'namespaces', (reviewer) => `ClusterRole/${reviewer}-namespaces`, api),
    {
      title: `reviewer token Secret ${n.sa}`,
      async check(ctx): Promise<Check> {
        const { namespace, name } = names(ctx.config);
        const k = await api(ctx);
        const s = await k.readTokenSecret(namespace, name);
        if (s && (s.type !== 'kubernetes.io/service-account-token' || s.serviceAccount !== name)) {
          throw new AgentError('CONFIG', `Secret ${n.sa} exists but is not the token of ServiceAccount ${name} (type ${s.type}); delete it or set kubernetesAuth.tokenReviewer.name`);
        }
        const fill = async () => {
          const jwt = await waitForToken(k, namespace, name);
          // a new token: the auth config step must hand it to Vault even if Vault already has one
          ctx.state.reviewer = { jwt, fresh: true };
        };
        if (s?.token) {
          ctx.state.reviewer = { jwt: s.token, fresh: false };
          return { action: 'unchanged', detail: 'long-lived token present' };
        }
        ctx.state.reviewer = { fresh: true };
        if (s) return { action: 'change', fields: ['token'], detail: 'waiting for the token controller', apply: fill };
        return {
          action: 'create',
          detail: 'long-lived token filled by the token controller, given to Vault as its reviewer JWT',
          apply: async () => {
            await k.createTokenSecret(namespace, name, name, LABELS);
            await fill();
          },
        };
      },
    },
  ];
}

/** `role`: the ClusterRole bound, from the reviewer's name. */
function bindingStep(reviewer: string, suffix: string, role: (reviewer: string) => string, api: (ctx: Context) => Promise<KubeAccounts>): Step {
  return {
    title: `reviewer ClusterRoleBinding ${reviewer}-${suffix}`,
    async check(ctx): Promise<Check> {
      const n = names(ctx.config);
      const k = await api(ctx);
      const name = `${n.name}-${suffix}`;
      const want: Binding = { role: role(n.name), subjects: [n.sa] };
      const current = await k.readClusterRoleBinding(name);
      const apply = () => k.writeClusterRoleBinding(name, want, LABELS, current !== undefined);
      if (!current) return { action: 'create', detail: `${want.role} for ${n.sa}`, apply };
      if (current.role !== want.role) {
        // roleRef is immutable and bootstrap deletes nothing: the operator decides
        throw new AgentError('CONFIG', `ClusterRoleBinding ${name} binds ${current.role}, not ${want.role}; delete it (a binding's role cannot change) or set kubernetesAuth.tokenReviewer.name`);
      }
      return same(current.subjects, want.subjects) ? { action: 'unchanged' } : { action: 'change', fields: ['subjects'], apply };
    },
  };
}

async function waitForToken(k: KubeAccounts, namespace: string, name: string): Promise<string> {
  const until = Date.now() + TOKEN_WAIT_MS;
  for (;;) {
    const token = (await k.readTokenSecret(namespace, name))?.token;
    if (token) return token;
    if (Date.now() > until) {
      throw new AgentError(
        'RUNTIME',
        `Secret ${namespace}/${name} has no token after ${TOKEN_WAIT_MS / 1000} s: kube-controller-manager's token controller fills it; check that it runs, then re-run bootstrap`,
      );
    }
    await sleep(250);
  }
}

/** Sets of JSON values, order ignored (the API server may reorder rules and subjects). */
function same(a: unknown[], b: unknown[]): boolean {
  const key = (xs: unknown[]) => xs.map((x) => JSON.stringify(x)).sort().join('\n');
  return key(a) === key(b);
}

/** reviewerProblem for the config, or for each cluster of its `clusters:` list. */
export function reviewerProblems(config: BootstrapConfig): string[] {
  const views = config.clusters.length ? clusterViews(config).map((v, i) => ({ config: v.config, where: `clusters[${i}]` })) : [{ config, where: 'kubernetesAuth' }];
  return views.flatMap((v) => reviewerProblem(v.config, v.where) ?? []);
}
