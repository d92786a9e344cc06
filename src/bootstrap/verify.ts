// Bootstrap's last step: prove that a workload can use what was just set up,
// through the agent's own code path. A real TokenRequest for a probe
// ServiceAccount in an opted-in namespace, a Kubernetes-auth login, a 5-minute
// certificate from each PKI role, its SPIFFE ID and chain checked — then one
// line per cluster that says passed, or where and why not.

import { clusterKube, clusterViews } from './clusters.ts';
import type { BootstrapConfig } from './config.ts';
import { kubeAccounts } from './kube-accounts.ts';
import type { KubeApi } from './kube.ts';
import type { Check, Step } from './plan.ts';
import { scopeSteps } from './clusters.ts';
import type { Logger } from '../log/log.ts';
import { obtain } from '../renewal/obtain.ts';
import { kubernetesLogin } from '../vault/auth.ts';
import type { VaultClient } from '../vault/client.ts';
import { vaultPki } from '../vault/pki.ts';
import { trustedRoots } from '../vault/roots.ts';

/** The probe's name when the auth role admits every service account of a namespace. */
export const PROBE_ACCOUNT = 'vault-pki-agent-probe';
const PROBE_LABELS = { 'app.kubernetes.io/managed-by': 'vault-pki-agent-bootstrap', 'app.kubernetes.io/component': 'verify-probe' };
/** Long enough for the check, short enough that nothing of it lingers. */
const CERT_SECONDS = 300;
const TOKEN_SECONDS = 600;

export type Probe = { namespace: string; serviceAccount: string } | { skipped: string };

/**
 * Who logs in: the first namespace the auth role lists by name that exists,
 * else the first (alphabetically) its selector picks; the first service
 * account it names, a `*` in it read as "probe" (so `*` →
 * vault-pki-agent-probe, `app-*` → app-probe). No such namespace yet: skipped.
 */
export async function probeTarget(config: BootstrapConfig, kube: () => Promise<KubeApi>): Promise<Probe> {
  const r = config.kubernetesAuth.role;
  let namespace: string | undefined;
  const accounts = await kubeAccounts(await kube());
  for (const n of r.namespaces.filter((n) => !n.includes('*'))) {
    if (await accounts.namespaceExists(n)) {
      namespace = n;
      break;
    }
  }
  if (!namespace && r.namespaceSelector.trim()) namespace = (await (await kube()).namespaces(r.namespaceSelector))[0];
  if (!namespace) {
    const how = [r.namespaces.length ? `create one of ${r.namespaces.join(', ')}` : '', r.namespaceSelector.trim() ? `label one ${r.namespaceSelector}` : ''].filter(Boolean).join(' or ');
    return { skipped: `no opted-in namespace exists yet (${how}), so no workload can log in to check` };
  }
  const sa = r.serviceAccounts[0]!;
  return { namespace, serviceAccount: sa === '*' ? PROBE_ACCOUNT : sa.replaceAll('*', 'probe') };
}

/** Says in the plan which account the check will use, and makes it if needed. */
function probeAccountStep(): Step {
  return {
    title: 'verification probe ServiceAccount',
    async check(ctx): Promise<Check> {
      const p = await probeTarget(ctx.config, ctx.kube);
      if ('skipped' in p) return { action: 'unchanged', detail: `the verification will be skipped: ${p.skipped}` };
      const k = await kubeAccounts(await ctx.kube());
      const who = `${p.namespace}/${p.serviceAccount}`;
      if (await k.serviceAccountExists(p.namespace, p.serviceAccount)) return { action: 'unchanged', detail: `${who}, used by the verification` };
      return {
        action: 'create',
        detail: `${who}: made for the verification (a login and a ${CERT_SECONDS / 60}-minute certificate); no rights of its own`,
        apply: () => k.createServiceAccount(p.namespace, p.serviceAccount, PROBE_LABELS),
      };
    },
  };
}

/** The probe step, once per cluster of a `clusters:` list. */
export function verifySteps(config: BootstrapConfig): Step[] {
  if (!config.clusters.length) return [probeAccountStep()];
  return clusterViews(config).flatMap((v) => scopeSteps(v, [probeAccountStep()]));
}

export interface Verdict {
  cluster?: string | undefined;
  outcome: 'passed' | 'failed' | 'skipped';
  line: string;
}

/** One verdict per cluster (one for a single-cluster config). */
export async function verifyAll(o: { config: BootstrapConfig; kube: () => Promise<KubeApi>; http: VaultClient; log: Logger }): Promise<Verdict[]> {
  if (!o.config.clusters.length) return [await verifyCluster({ ...o })];
  const out: Verdict[] = [];
  for (const v of clusterViews(o.config)) out.push(await verifyCluster({ ...o, config: v.config, kube: clusterKube(v, o.kube), cluster: v.name }));
  return out;
}

async function verifyCluster(o: { config: BootstrapConfig; kube: () => Promise<KubeApi>; http: VaultClient; log: Logger; cluster?: string }): Promise<Verdict> {
  const c = o.config;
  const k = c.kubernetesAuth;
  const prefix = `verify${o.cluster ? ` (cluster ${o.cluster})` : ''}`;
  const failed = (phase: string, err: unknown): Verdict => ({
    cluster: o.cluster,
    outcome: 'failed',
    line: `${prefix}: FAILED at ${phase}: ${(err as Error).message.split('\n')[0]}`,
  });
  let p: Probe;
  try {
    p = await probeTarget(c, o.kube);
  } catch (err) {
    return failed('choosing the probe namespace', err);
  }
  if ('skipped' in p) return { cluster: o.cluster, outcome: 'skipped', line: `${prefix}: skipped: ${p.skipped}` };
  const who = `${p.namespace}/${p.serviceAccount}`;

  let jwt: string;
  try {
    const accounts = await kubeAccounts(await o.kube());
    if (!(await accounts.serviceAccountExists(p.namespace, p.serviceAccount))) await accounts.createServiceAccount(p.namespace, p.serviceAccount, PROBE_LABELS);
    jwt = await accounts.requestToken(p.namespace, p.serviceAccount, k.role.audience, TOKEN_SECONDS);
  } catch (err) {
    return failed(`the TokenRequest for ${who}`, err);
  }
  const tokenSource = { path: `TokenRequest for ${who}`, read: async () => jwt };
  const login = kubernetesLogin({ vault: o.http, mount: k.mount, role: k.role.name, tokenSource });
  try {
    await login.login();
  } catch (err) {
    return failed(`login as ${who} (auth/${k.mount}/role/${k.role.name})`, err);
  }
  const roots = trustedRoots({ vault: o.http, mount: c.root.mode === 'internal' ? c.root.mount : undefined, issuingMount: c.intermediate.mount, log: o.log });
  const issued: string[] = [];
  for (const role of c.roles) {
    try {
      const pki = vaultPki({ vault: o.http, login, mount: c.intermediate.mount, role: role.name });
      // the agent's own issue: the SPIFFE ID must be exactly the probe's, the chain must verify
      const b = await obtain({ pki, tokenSource, mode: 'issue', trustDomain: c.trustDomain, dnsSans: [], ttlSeconds: CERT_SECONDS, extraRoots: roots, now: () => new Date() });
      issued.push(`${b.spiffeId} from ${c.intermediate.mount}/issue/${role.name} (serial ${b.serial})`);
    } catch (err) {
      return failed(`issue from ${c.intermediate.mount}/issue/${role.name} as ${who}`, err);
    }
  }
  return { cluster: o.cluster, outcome: 'passed', line: `${prefix}: passed: ${who} logged in via auth/${k.mount}/role/${k.role.name} and got ${issued.join('; ')}` };
}
