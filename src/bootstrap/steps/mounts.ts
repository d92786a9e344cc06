// Mount steps: the PKI secrets engines (created with their tuning in one
// call, tuned when they drift) and the Kubernetes auth mount (whose accessor
// the PKI role's SPIFFE template needs). A mount of the wrong type stops the
// run before any write: bootstrap never disables or replaces a mount.

import { AgentError } from '../../errors.ts';
import { formatDuration } from '../../config/duration.ts';
import { diffFields, type Check, type Context, type Step } from '../plan.ts';
import { fullBody, MOUNT_TUNE_DEFAULTS } from '../vault-defaults.ts';

// If-Modified-Since lets the agent and other clients poll CA/CRL cheaply
// (`vault pki health-check` asks for it); Last-Modified is the matching answer.
const PASSTHROUGH = ['If-Modified-Since'];
const RESPONSE_HEADERS = ['Last-Modified'];
// Public request/response fields audited in clear (health-check's audit_visibility):
// an operator can then read which SPIFFE ID was issued to whom. Never a key.
const AUDIT_REQUEST_KEYS = ['csr', 'certificate', 'issuer_ref', 'common_name', 'alt_names', 'other_sans', 'ip_sans', 'uri_sans', 'ttl', 'not_after', 'serial_number', 'key_type',
  'private_key_format', 'managed_key_name', 'managed_key_id', 'ou', 'organization', 'country', 'locality', 'province', 'street_address', 'postal_code',
  'permitted_dns_domains', 'policy_identifiers', 'ext_key_usage_oids'];
const AUDIT_RESPONSE_KEYS = ['certificate', 'issuing_ca', 'serial_number', 'error', 'ca_chain'];

export function pkiMountStep(mount: string, maxLeaseTtl: number, description: string): Step {
  return {
    title: `mount ${mount}/`,
    async check(ctx: Context): Promise<Check> {
      const desired = {
        max_lease_ttl: maxLeaseTtl,
        passthrough_request_headers: PASSTHROUGH,
        allowed_response_headers: RESPONSE_HEADERS,
        audit_non_hmac_request_keys: AUDIT_REQUEST_KEYS,
        audit_non_hmac_response_keys: AUDIT_RESPONSE_KEYS,
      };
      const current = (await ctx.vault.read('sys/mounts', 'list mounts'))?.[`${mount}/`];
      const needs = [{ path: `sys/mounts/${mount}`, capabilities: ['update' as const], why: `enable the ${mount} PKI engine` }];
      if (!current) {
        return {
          action: 'create',
          detail: `pki, max_lease_ttl ${formatDuration(maxLeaseTtl)}`,
          needs,
          apply: async () => {
            await ctx.vault.write(`sys/mounts/${mount}`, { type: 'pki', description, config: { ...desired, max_lease_ttl: formatDuration(maxLeaseTtl) } }, 'enable mount');
          },
        };
      }
      if (current.type !== 'pki') {
        throw new AgentError('CONFIG', `mount ${mount}/ exists with type "${current.type}", not pki; bootstrap never replaces a mount — choose another mount name in the config`);
      }
      const tune = fullBody(desired, MOUNT_TUNE_DEFAULTS, current.config);
      const fields = diffFields(current.config, tune);
      if (!fields.length) return { action: 'unchanged' };
      return {
        action: 'change',
        fields,
        needs: [{ path: `sys/mounts/${mount}/tune`, capabilities: ['update'], why: `tune the ${mount} mount` }],
        apply: async () => {
          await ctx.vault.write(`sys/mounts/${mount}/tune`, { ...tune, max_lease_ttl: formatDuration(maxLeaseTtl) }, 'tune mount');
        },
      };
    },
  };
}

// The listings, not sys/mounts/<path>: those answer 400 (not 404) for a
// missing mount, and need sudo for auth methods.
async function authMount(ctx: Context, mount: string): Promise<{ type: string; accessor: string } | undefined> {
  return (await ctx.vault.read('sys/auth', 'list auth mounts'))?.[`${mount}/`];
}

export function kubernetesAuthMountStep(mount: string): Step {
  return {
    title: `auth ${mount}/`,
    async check(ctx: Context): Promise<Check> {
      const current = await authMount(ctx, mount);
      if (current) {
        if (current.type !== 'kubernetes') {
          throw new AgentError('CONFIG', `auth mount ${mount}/ exists with type "${current.type}", not kubernetes; choose another kubernetesAuth.mount`);
        }
        ctx.state.accessor = current.accessor;
        return { action: 'unchanged', detail: current.accessor };
      }
      return {
        action: 'create',
        detail: 'kubernetes',
        needs: [{ path: `sys/auth/${mount}`, capabilities: ['update', 'sudo'], why: 'enable the Kubernetes auth method' }],
        apply: async () => {
          await ctx.vault.write(`sys/auth/${mount}`, { type: 'kubernetes', description: 'vault-pki-agent workloads' }, 'enable auth');
          const created = await authMount(ctx, mount);
          ctx.state.accessor = created?.accessor;
          return created?.accessor;
        },
      };
    },
  };
}
