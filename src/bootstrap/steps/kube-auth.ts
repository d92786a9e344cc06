// Kubernetes auth: the mount's config (API server, CA, reviewer), the
// least-privilege policy (update on issue/sign of our roles, nothing else)
// and the auth role binding chosen service accounts to it with audience vault.

import { readFile } from 'node:fs/promises';
import { AgentError } from '../../errors.ts';
import { parseSelector } from '../config.ts';
import { formatDuration } from '../../config/duration.ts';
import { diffFields, type Check, type Context, type Step } from '../plan.ts';
import { AUTH_CONFIG_DEFAULTS, AUTH_ROLE_DEFAULTS, fullBody } from '../vault-defaults.ts';
import { vaultVersion, versionNote } from '../vault-version.ts';
import { workloadPathRule } from '../workload-policy.ts';

async function readText(file: string, what: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new AgentError('CONFIG', `${what} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code}); check the path in the config`, { cause: err });
  }
}

export function authConfigStep(mount: string): Step {
  return {
    title: `auth ${mount}/config`,
    async check(ctx: Context): Promise<Check> {
      const k = ctx.config.kubernetesAuth;
      const path = `auth/${k.mount}/config`;
      let host = k.host;
      let caPem = k.caFile ? await readText(k.caFile, 'kubernetesAuth.caFile') : undefined;
      if (!host || (!caPem && !k.caFile)) {
        const cluster = (await ctx.kube()).cluster();
        host ??= cluster.host;
        caPem ??= cluster.caPem?.trim();
      }
      // the file, or the token of the reviewer bootstrap made (steps/reviewer.ts, earlier in the plan)
      const jwt = k.reviewerJwtFile ? await readText(k.reviewerJwtFile, 'kubernetesAuth.reviewerJwtFile') : ctx.state.reviewer?.jwt;
      const current = await ctx.vault.read(path, 'read auth config');
      const desired = fullBody({ kubernetes_host: host, kubernetes_ca_cert: caPem ?? '' }, AUTH_CONFIG_DEFAULTS, current);
      // Vault never reads the reviewer JWT back: only "set or not" can be compared.
      const fields = diffFields(current, desired);
      if (current && ((jwt && !current.token_reviewer_jwt_set) || ctx.state.reviewer?.fresh)) fields.push('token_reviewer_jwt');
      const apply = async () => {
        // a write replaces the whole config, so the reviewer JWT goes along every time
        await ctx.vault.write(path, { ...desired, ...(jwt ? { token_reviewer_jwt: jwt } : {}) }, 'write auth config');
      };
      const needs = [{ path, capabilities: ['update' as const], why: 'configure Kubernetes auth' }];
      if (!current?.kubernetes_host) return { action: 'create', detail: `${host}${jwt || ctx.state.reviewer ? ', reviewer JWT set' : ''}`, needs, apply };
      return fields.length ? { action: 'change', fields, needs, apply } : { action: 'unchanged', detail: host };
    },
  };
}

export function policyText(config: Context['config']): string {
  const m = config.intermediate.mount;
  const lines = [
    '# vault-pki-agent workloads: obtain their own SPIFFE certificate, nothing else.',
    '# Managed by `vault-pki-agent bootstrap`; edits are reverted on its next run.',
  ];
  for (const r of config.roles) {
    for (const op of ['issue', 'sign'] as const) lines.push(...workloadPathRule(m, op, r.name));
  }
  return lines.join('\n') + '\n';
}

export function policyStep(name: string): Step {
  return {
    title: `policy ${name}`,
    async check(ctx: Context): Promise<Check> {
      const name = ctx.config.kubernetesAuth.policy;
      const path = `sys/policies/acl/${name}`;
      const desired = policyText(ctx.config);
      const current = await ctx.vault.read(path, 'read policy');
      const apply = async () => {
        await ctx.vault.write(path, { policy: desired }, 'write policy');
      };
      const needs = [{ path, capabilities: ['update' as const], why: `write policy ${name}` }];
      // said on every run: the policy is what stands between a workload and not_after
      const version = versionNote(await vaultVersion(ctx.vault));
      if (!current) {
        const roles = ctx.config.roles.map((r) => r.name).join(', ');
        return { action: 'create', detail: `${name}: update on issue/sign of ${roles} only, with only the agent's request fields; ${version}`, needs, apply };
      }
      return String(current.policy).trim() === desired.trim()
        ? { action: 'unchanged', detail: `${name}; ${version}` }
        : { action: 'change', fields: ['policy'], detail: `${name}; ${version}`, needs, apply };
    },
  };
}

export function authRoleBody(config: Context['config']): Record<string, unknown> {
  const r = config.kubernetesAuth.role;
  const selector = r.namespaceSelector.trim() ? JSON.stringify({ matchLabels: parseSelector(r.namespaceSelector) }) : '';
  return {
    bound_service_account_names: r.serviceAccounts,
    bound_service_account_namespaces: r.namespaces,
    bound_service_account_namespace_selector: selector,
    audience: r.audience,
    alias_name_source: 'serviceaccount_uid',
    token_policies: [config.kubernetesAuth.policy],
    token_no_default_policy: true,
    token_ttl: r.tokenTtl,
    token_max_ttl: r.tokenTtl,
    token_type: r.tokenType,
  };
}

export function authRoleStep(mount: string, role: string): Step {
  return {
    title: `auth ${mount}/role/${role}`,
    async check(ctx: Context): Promise<Check> {
      const k = ctx.config.kubernetesAuth;
      const path = `auth/${k.mount}/role/${k.role.name}`;
      const current = await ctx.vault.read(path, 'read auth role');
      // a write changes only the fields sent: Vault's defaults go along to undo a hand edit
      const desired = fullBody(authRoleBody(ctx.config), AUTH_ROLE_DEFAULTS, current);
      const apply = async () => {
        await ctx.vault.write(path, desired, 'write auth role');
      };
      const needs = [{ path, capabilities: ['update' as const], why: `write auth role ${k.role.name}` }];
      const who = k.role.namespaces.length ? `namespaces ${k.role.namespaces.join(',')}` : '';
      const sel = k.role.namespaceSelector ? `namespaces labelled ${k.role.namespaceSelector}` : '';
      if (!current) {
        return {
          action: 'create',
          detail: `${k.mount}/role/${k.role.name}: service accounts ${k.role.serviceAccounts.join(',')} in ${[who, sel].filter(Boolean).join(' or ')}, audience ${k.role.audience}, token ttl ${formatDuration(k.role.tokenTtl)}`,
          needs,
          apply,
        };
      }
      const fields = diffFields(current, desired);
      return fields.length ? { action: 'change', fields, needs, apply } : { action: 'unchanged', detail: `${k.mount}/role/${k.role.name}` };
    },
  };
}
