// Unit tests of what bootstrap writes for the workload: the PKI role, the
// policy and the auth role, and how the plan compares them with Vault.
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { diffFields, planLine } from '../../src/bootstrap/plan.ts';
import { authRoleBody, policyText } from '../../src/bootstrap/steps/kube-auth.ts';
import { roleBody } from '../../src/bootstrap/steps/role.ts';

const config = validateConfig({ trustDomain: 'mesh.example' });

describe('bootstrap role, policy and auth role', () => {
  it('the PKI role allows only the caller\'s own SPIFFE ID, templated from the Kubernetes alias metadata', () => {
    const body = roleBody(config, config.roles[0]!, 'auth_kubernetes_1234');
    expect(body.allowed_uri_sans).toEqual([
      'spiffe://mesh.example/ns/{{identity.entity.aliases.auth_kubernetes_1234.metadata.service_account_namespace}}/sa/{{identity.entity.aliases.auth_kubernetes_1234.metadata.service_account_name}}',
    ]);
    expect(body).toMatchObject({ allowed_uri_sans_template: true, use_csr_sans: false, use_csr_common_name: false, require_cn: false, key_type: 'ec', key_bits: 256 });
    expect(body).toMatchObject({ server_flag: true, client_flag: true, allow_any_name: false, allow_localhost: false, allow_glob_domains: false });
  });

  it('by default the PKI role allows no DNS SAN at all', () => {
    const body = roleBody(config, config.roles[0]!, 'acc');
    expect(body).toMatchObject({ allowed_domains: [], allowed_domains_template: false, allow_subdomains: false, allow_bare_domains: false, allow_any_name: false });
  });

  it('DNS SANs are confined to the caller\'s namespace under .svc', () => {
    const optIn = validateConfig({ trustDomain: 'mesh.example', roles: [{ name: 'istio-workload', allowNamespaceDnsSans: true }] });
    const body = roleBody(optIn, optIn.roles[0]!, 'acc');
    const ns = '{{identity.entity.aliases.acc.metadata.service_account_namespace}}';
    expect(body.allowed_domains).toEqual([`${ns}.svc`, `${ns}.svc.cluster.local`]);
    expect(body).toMatchObject({ allowed_domains_template: true, allow_subdomains: true, allow_bare_domains: false });
  });

  it('the policy grants update on issue and sign of the managed roles and nothing else', () => {
    const text = policyText(config);
    expect(text.match(/^path "[^"]+"/gm)).toEqual(['path "pki_istio/issue/istio-workload"', 'path "pki_istio/sign/istio-workload"']);
    expect(text.match(/capabilities = \[[^\]]*\]/g)).toEqual(['capabilities = ["update"]', 'capabilities = ["update"]']);
  });

  it('the auth role uses audience vault, drops the default policy and binds the opt-in namespace label', () => {
    expect(authRoleBody(config)).toMatchObject({
      audience: 'vault',
      token_no_default_policy: true,
      token_policies: ['vault-pki-agent-workload'],
      bound_service_account_names: ['*'],
      bound_service_account_namespaces: [],
      bound_service_account_namespace_selector: '{"matchLabels":{"vault-pki-agent.io/enabled":"true"}}',
    });
  });

  it('the plan names exactly the fields that differ, treating lists as sets and absent lists as empty', () => {
    expect(diffFields({ ttl: 86400, key_usage: ['KeyAgreement', 'DigitalSignature'], ext_key_usage: null }, { ttl: 3600, key_usage: ['DigitalSignature', 'KeyAgreement'], ext_key_usage: [] })).toEqual(['ttl']);
    expect(planLine('PKI role pki_istio/roles/r', { action: 'change', fields: ['ttl', 'max_ttl'] })).toBe('~ PKI role pki_istio/roles/r: ttl, max_ttl');
  });
});
