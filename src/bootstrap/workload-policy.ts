// What a workload token may send to issue/sign: exactly the request fields
// the agent sends (src/vault/pki.ts), and for the fixed ones only the value
// it sends. Vault's ACL refuses every other field with 403 before the PKI
// engine sees it: not_after (which Vault before 1.21.8/1.20.13/1.19.19 lets
// exceed the role's max_ttl, hashicorp/vault#29928), common_name, ip_sans,
// other_sans, user_ids, issuer_ref, another key or output format.

/** Empty list: any value (the PKI role judges it). Otherwise: only these values. */
type Allowed = Record<string, readonly (string | boolean)[]>;

// Fields of both issue and sign.
const COMMON: Allowed = {
  // the SPIFFE ID; the role's templated allowed_uri_sans binds it to the caller
  uri_sans: [],
  // DNS SANs; the role refuses them unless it opted in, then only in the caller's namespace
  alt_names: [],
  // any value: the role's max_ttl (and the mount's max_lease_ttl) cap it.
  // An ACL can only match strings (globs at the ends), not compare durations.
  ttl: [],
  format: ['pem'],
  // the value the agent sends (it asks for no CN at all)
  exclude_cn_from_sans: [true],
};

export const ALLOWED_PARAMETERS: Readonly<Record<'issue' | 'sign', Allowed>> = {
  // Vault makes the key; the agent asks for it in PKCS#8
  issue: { ...COMMON, private_key_format: ['pkcs8'] },
  // the agent's CSR; with use_csr_sans/use_csr_common_name off, its names are ignored
  sign: { ...COMMON, csr: [] },
};

function hclValue(v: string | boolean): string {
  return typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/** One policy path block: update on `<mount>/<op>/<role>` with only the agent's parameters. */
export function workloadPathRule(mount: string, op: 'issue' | 'sign', role: string): string[] {
  const params = Object.entries(ALLOWED_PARAMETERS[op]).map(([k, values]) => `    "${k}" = [${values.map(hclValue).join(', ')}]`);
  return [`path "${mount}/${op}/${role}" {`, '  capabilities = ["update"]', '  allowed_parameters = {', ...params, '  }', '}'];
}
