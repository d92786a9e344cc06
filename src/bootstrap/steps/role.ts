// The PKI role: Vault itself binds each SPIFFE ID to the caller's service
// account by templating the URI SAN from the Kubernetes auth alias metadata;
// DNS SANs are refused unless a role opts in; then they are confined to the
// caller's namespace the same way. The request's
// uri_sans/alt_names decide in sign mode too (CSR SANs and CN are ignored).

import { AgentError } from '../../errors.ts';
import type { BootstrapConfig } from '../config.ts';
import { formatDuration } from '../../config/duration.ts';
import { diffFields, type Check, type Context, type Step } from '../plan.ts';
import { fullBody, PKI_ROLE_DEFAULTS } from '../vault-defaults.ts';
import { edgeNote } from '../edge-role.ts';

type Role = BootstrapConfig['roles'][number];

/** Shown in a plan while the auth mount (and so its accessor) does not exist yet. */
export const ACCESSOR_PLACEHOLDER = '<accessor>';

export function aliasMeta(accessor: string, key: 'service_account_namespace' | 'service_account_name'): string {
  return `{{identity.entity.aliases.${accessor}.metadata.${key}}}`;
}

export function spiffeTemplate(trustDomain: string, accessor: string): string {
  return `spiffe://${trustDomain}/ns/${aliasMeta(accessor, 'service_account_namespace')}/sa/${aliasMeta(accessor, 'service_account_name')}`;
}

/** The role exactly as bootstrap writes it; durations in seconds (as Vault reads them back). */
export function roleBody(config: BootstrapConfig, role: Role, accessor: string): Record<string, unknown> {
  const ns = aliasMeta(accessor, 'service_account_namespace');
  const dns = role.allowNamespaceDnsSans;
  return {
    key_type: 'ec',
    key_bits: 256,
    ttl: role.ttl,
    max_ttl: role.maxTtl,
    require_cn: false,
    server_flag: true,
    client_flag: true,
    code_signing_flag: false,
    email_protection_flag: false,
    // EC keys sign and agree; they never encipher keys
    key_usage: ['DigitalSignature', 'KeyAgreement'],
    ext_key_usage: [],
    allowed_uri_sans: [spiffeTemplate(config.trustDomain, accessor)],
    allowed_uri_sans_template: true,
    allowed_domains: dns ? [`${ns}.svc`, `${ns}.svc.${config.clusterDomain}`] : [],
    allowed_domains_template: dns,
    allow_subdomains: dns,
    allow_bare_domains: false,
    allow_glob_domains: false,
    allow_wildcard_certificates: false,
    allow_localhost: false,
    allow_any_name: false,
    allow_ip_sans: false,
    allowed_other_sans: [],
    allowed_serial_numbers: [],
    enforce_hostnames: true,
    use_csr_sans: false,
    use_csr_common_name: false,
    no_store: role.noStore,
    generate_lease: false,
    issuer_ref: 'default',
  };
}

/** Said in the plan either way: the opt-in widens what every service account of a namespace may claim. */
function dnsSansNote(role: Role): string {
  return role.allowNamespaceDnsSans
    ? 'WARNING any service account may get ANY DNS name <svc>.<its namespace>.svc (allowNamespaceDnsSans: true)'
    : 'no DNS SANs (roles[].allowNamespaceDnsSans: true allows <svc>.<namespace>.svc names)';
}

export function pkiRoleStep(role: Role, mount: string): Step {
  return {
    title: `PKI role ${mount}/roles/${role.name}`,
    async check(ctx: Context): Promise<Check> {
      const mount = ctx.config.intermediate.mount;
      const path = `${mount}/roles/${role.name}`;
      const current = await ctx.vault.read(path, 'read role');
      const desired = fullBody(roleBody(ctx.config, role, ctx.state.accessor ?? ACCESSOR_PLACEHOLDER), PKI_ROLE_DEFAULTS, current);
      const needs = [{ path, capabilities: ['update' as const], why: `write PKI role ${role.name}` }];
      const apply = async () => {
        // the auth mount step runs first, so the accessor is known by now
        const accessor = ctx.state.accessor;
        if (!accessor) throw new AgentError('RUNTIME', `writing PKI role ${path}: the accessor of auth mount ${ctx.config.kubernetesAuth.mount}/ is unknown; re-run bootstrap`);
        await ctx.vault.write(path, fullBody(roleBody(ctx.config, role, accessor), PKI_ROLE_DEFAULTS, current), 'write role');
      };
      // An edge role says, at every run, the flags its agents need to ride out the budget.
      const edge = role.edge ? `; ${edgeNote(role.edge)}` : '';
      if (!current) return { action: 'create', detail: `${mount}/, ttl ${formatDuration(role.ttl)}, max_ttl ${formatDuration(role.maxTtl)}, SPIFFE ID bound to the service account, ${dnsSansNote(role)}${edge}`, needs, apply };
      const fields = diffFields(current, desired);
      return fields.length ? { action: 'change', fields, needs, apply, ...(edge ? { detail: edge.slice(2) } : {}) } : { action: 'unchanged', detail: `${mount}${edge}` };
    },
  };
}
