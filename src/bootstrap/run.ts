// Plan, then apply: every step reads first and says create / change / unchanged;
// the plan is printed; the token's capabilities for the whole plan are checked
// before the first write; then each pending step is re-read and applied in
// order with a progress line. A run whose plan is all `=` writes nothing.

import { AgentError } from '../errors.ts';
import { createLogger, type Logger } from '../log/log.ts';
import type { VaultClient } from '../vault/client.ts';
import { clusterViews, scopeSteps } from './clusters.ts';
import type { BootstrapConfig } from './config.ts';
import type { KubeApi } from './kube.ts';
import { planLine, SYMBOL, type Check, type Context, type Step } from './plan.ts';
import { intermediateStep } from './steps/intermediate.ts';
import { istiodCaStep } from './steps/istiod-ca.ts';
import { linkerdSteps } from './steps/linkerd.ts';
import { authConfigStep, authRoleStep, policyStep } from './steps/kube-auth.ts';
import { kubernetesAuthMountStep, pkiMountStep } from './steps/mounts.ts';
import { autoTidyStep, crlStep, firstTidyStep, urlsStep } from './steps/pki-config.ts';
import { reviewerProblems, reviewerSteps } from './steps/reviewer.ts';
import { pkiRoleStep } from './steps/role.ts';
import { rootCaStep } from './steps/root.ts';
import { trustBundleStep } from './steps/trust-bundle.ts';
import { preflight, type BootstrapVault } from './vault.ts';
import { verifyAll, verifySteps, type Verdict } from './verify.ts';

/** The steps in apply order: the auth mount comes early because the PKI role templates its accessor. */
export function buildSteps(config: BootstrapConfig, vaultAddress: string): Step[] {
  if (config.clusters.length) return clusterSteps(config, vaultAddress);
  const { root, intermediate: i } = config;
  const base = (config.urlsBase ?? vaultAddress).replace(/\/$/, '');
  const internal = root.mode === 'internal';
  const perMount = (m: string) => [urlsStep(m, base), crlStep(m, config.crl), autoTidyStep(m, config.tidy)];
  return [
    ...(internal ? [pkiMountStep(root.mount, root.maxLeaseTtl, 'vault-pki-agent root CA')] : []),
    pkiMountStep(i.mount, i.maxLeaseTtl, 'vault-pki-agent workload intermediate CA'),
    kubernetesAuthMountStep(config.kubernetesAuth.mount),
    ...(internal ? [rootCaStep(root.mount), ...perMount(root.mount)] : []),
    ...perMount(i.mount),
    intermediateStep(i.mount),
    ...config.roles.map((r) => pkiRoleStep(r, i.mount)),
    ...(internal ? [firstTidyStep(root.mount, config.tidy)] : []),
    firstTidyStep(i.mount, config.tidy),
    ...authAndOutputs(config),
  ];
}

/**
 * What every cluster gets once its PKI is there: Kubernetes auth bound to it,
 * then the optional outputs. With clusters:, Linkerd too is per cluster: one
 * trust anchor (the shared root) in every cluster, an issuer of each cluster's own.
 */
function authAndOutputs(c: BootstrapConfig): Step[] {
  return [
    ...reviewerSteps(c),
    authConfigStep(c.kubernetesAuth.mount),
    policyStep(c.kubernetesAuth.policy),
    authRoleStep(c.kubernetesAuth.mount, c.kubernetesAuth.role.name),
    ...(c.trustBundle.enabled ? [trustBundleStep(c.trustBundle.configMapName)] : []),
    ...(c.istiodCa.enabled ? [istiodCaStep(c.istiodCa.namespace, c.istiodCa.secretName)] : []),
    ...(c.linkerd.enabled ? linkerdSteps(c.linkerd.namespace) : []),
  ];
}

/**
 * With `clusters:`: the root once, then per cluster what a single cluster gets
 * beyond the root (its view of the config names its own mounts), then the
 * root's first tidy. The validation has made sure the root is internal.
 */
function clusterSteps(config: BootstrapConfig, vaultAddress: string): Step[] {
  const root = config.root;
  const base = (config.urlsBase ?? vaultAddress).replace(/\/$/, '');
  const perMount = (m: string) => [urlsStep(m, base), crlStep(m, config.crl), autoTidyStep(m, config.tidy)];
  const perCluster = (c: BootstrapConfig): Step[] => [
    pkiMountStep(c.intermediate.mount, c.intermediate.maxLeaseTtl, 'vault-pki-agent workload intermediate CA'),
    kubernetesAuthMountStep(c.kubernetesAuth.mount),
    ...perMount(c.intermediate.mount),
    intermediateStep(c.intermediate.mount),
    ...c.roles.map((r) => pkiRoleStep(r, c.intermediate.mount)),
    firstTidyStep(c.intermediate.mount, c.tidy),
    ...authAndOutputs(c),
  ];
  return [
    pkiMountStep(root.mount, root.maxLeaseTtl, 'vault-pki-agent root CA'),
    rootCaStep(root.mount),
    ...perMount(root.mount),
    ...clusterViews(config).flatMap((v) => scopeSteps(v, perCluster(v.config))),
    firstTidyStep(root.mount, config.tidy),
  ];
}

export interface RunOptions {
  config: BootstrapConfig;
  vault: BootstrapVault;
  kube: () => Promise<KubeApi>;
  dryRun?: boolean;
  /** plan and progress lines (stdout) */
  out: (line: string) => void;
  log?: Logger | undefined;
  /** called after each applied step; tests use it to interrupt a run at a known point */
  onApplied?: (title: string) => Promise<void> | void;
  /** after apply, log in and issue as a probe workload (verify.ts); `http` makes the workload's unauthenticated calls */
  verify?: { http: VaultClient } | undefined;
}

export interface RunResult {
  plan: { title: string; action: Check['action']; fields: string[] }[];
  applied: string[];
  /** why the run stopped early on purpose (external root waiting for its signature) */
  halted?: string | undefined;
  /** one per cluster when the run verified */
  verify?: Verdict[] | undefined;
}

export async function runBootstrap(opts: RunOptions): Promise<RunResult> {
  // A login that could never work is refused before anything is read or written.
  const unworkable = reviewerProblems(opts.config);
  if (unworkable.length) throw new AgentError('CONFIG', unworkable.join('; '));
  const steps = [...buildSteps(opts.config, opts.vault.address), ...(opts.verify ? verifySteps(opts.config) : [])];
  const result = await runSteps(steps, opts);
  if (!opts.verify || opts.dryRun || result.halted) return result;
  const log = opts.log ?? createLogger({ name: 'bootstrap', level: 'silent' });
  result.verify = await verifyAll({ config: opts.config, kube: opts.kube, http: opts.verify.http, log });
  for (const v of result.verify) opts.out(v.line);
  return result;
}

/** Plan, then apply `steps` (bootstrap's, or a rotation phase's) with the same rendering and checks. */
export async function runSteps(steps: Step[], opts: RunOptions): Promise<RunResult> {
  const ctx: Context = { config: opts.config, vault: opts.vault, kube: opts.kube, state: {} };
  const checks: Check[] = [];
  opts.out(`plan for ${opts.vault.address}:`);
  for (const step of steps) {
    const check = await step.check(ctx);
    checks.push(check);
    opts.out(planLine(step.title, check));
  }
  const result: RunResult = {
    plan: steps.map((s, n) => ({ title: s.title, action: checks[n]!.action, fields: checks[n]!.fields ?? [] })),
    applied: [],
  };
  const pending = steps.map((s, n) => ({ step: s, check: checks[n]! })).filter((p) => p.check.action !== 'unchanged');
  const count = (a: Check['action']) => checks.filter((c) => c.action === a).length;
  opts.out(`plan: ${count('create')} to create, ${count('change')} to change, ${count('unchanged')} unchanged`);
  if (!pending.length) {
    opts.out('nothing to do: Vault already matches the config');
    return result;
  }
  if (opts.dryRun) {
    opts.out('dry run: nothing written');
    return result;
  }

  const checked = await preflight(opts.vault, pending.flatMap((p) => p.check.needs ?? []));
  if (checked === 'skipped') opts.log?.warn('sys/capabilities-self is denied to this token: permissions are checked step by step instead of up front');

  let n = 0;
  for (const { step, check: planned } of pending) {
    n++;
    const started = performance.now();
    // Re-read: an earlier step may have changed what this one sees (the auth
    // accessor, the new root), and a concurrent run may have done it already.
    const fresh = await step.check(ctx);
    // the symbol the plan showed: a setting planned as "+" with its mount reads as "~" by now
    const prefix = `[${n}/${pending.length}] ${SYMBOL[planned.action]} ${step.title}`;
    if (fresh.action === 'unchanged' || !fresh.apply) {
      opts.out(`${prefix}: already up to date`);
      continue;
    }
    const note = await fresh.apply();
    const ms = Math.round(performance.now() - started);
    opts.out(`${prefix}: done in ${ms} ms${note ? ` (${note})` : ''}`);
    opts.log?.info({ step: step.title, action: fresh.action, ms }, 'bootstrap step applied');
    result.applied.push(step.title);
    await opts.onApplied?.(step.title);
    if (ctx.state.halt) {
      opts.out(`stopped: ${ctx.state.halt}`);
      result.halted = ctx.state.halt;
      return result;
    }
  }
  opts.out(`applied ${result.applied.length} step(s)`);
  return result;
}
