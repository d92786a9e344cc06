// Plan, then apply: every step reads first and says create / change / unchanged;
// the plan is printed; the token's capabilities for the whole plan are checked
// before the first write; then each pending step is re-read and applied in
// order with a progress line. A run whose plan is all `=` writes nothing.

import type { Logger } from '../log/log.ts';
import type { BootstrapConfig } from './config.ts';
import type { KubeApi } from './kube.ts';
import { planLine, SYMBOL, type Check, type Context, type Step } from './plan.ts';
import { intermediateStep } from './steps/intermediate.ts';
import { istiodCaStep } from './steps/istiod-ca.ts';
import { authConfigStep, authRoleStep, policyStep } from './steps/kube-auth.ts';
import { kubernetesAuthMountStep, pkiMountStep } from './steps/mounts.ts';
import { autoTidyStep, crlStep, firstTidyStep, urlsStep } from './steps/pki-config.ts';
import { pkiRoleStep } from './steps/role.ts';
import { rootCaStep } from './steps/root.ts';
import { trustBundleStep } from './steps/trust-bundle.ts';
import { preflight, type BootstrapVault } from './vault.ts';

/** The steps in apply order: the auth mount comes early because the PKI role templates its accessor. */
export function buildSteps(config: BootstrapConfig, vaultAddress: string): Step[] {
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
    authConfigStep(config.kubernetesAuth.mount),
    policyStep(config.kubernetesAuth.policy),
    authRoleStep(config.kubernetesAuth.mount, config.kubernetesAuth.role.name),
    ...(config.trustBundle.enabled ? [trustBundleStep(config.trustBundle.configMapName)] : []),
    ...(config.istiodCa.enabled ? [istiodCaStep(config.istiodCa.namespace, config.istiodCa.secretName)] : []),
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
}

export interface RunResult {
  plan: { title: string; action: Check['action']; fields: string[] }[];
  applied: string[];
  /** why the run stopped early on purpose (external root waiting for its signature) */
  halted?: string | undefined;
}

export async function runBootstrap(opts: RunOptions): Promise<RunResult> {
  return runSteps(buildSteps(opts.config, opts.vault.address), opts);
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
