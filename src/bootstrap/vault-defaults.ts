// The whole body of each object bootstrap writes: the fields it sets, plus
// Vault's own default for every other field Vault answers with. The drift
// check compares all of them and apply writes all of them, so a field changed
// by hand that bootstrap never sets (a role's allowed_user_ids, an auth role's
// token_bound_cidrs) shows up in the plan and is put back.
//
// The defaults are what Vault 1.21.0 answers for an object written with none
// of these fields (read back with `vault read`; the drift test tampers with
// them against the real Vault). A default is compared and written only when
// the Vault in front of us returns that field, so an older Vault that lacks
// one is not forever "changed". A field newer than this table is not judged.

/** PKI role (`<mount>/roles/<name>`), minus what roleBody sets. A write replaces the whole role. */
export const PKI_ROLE_DEFAULTS: Readonly<Record<string, unknown>> = {
  allowed_user_ids: [],
  basic_constraints_valid_for_non_ca: false,
  cn_validations: ['email', 'hostname'],
  country: [],
  ext_key_usage_oids: [],
  locality: [],
  // a fixed expiry date on the role itself would override every ttl
  not_after: '',
  not_before_duration: 30,
  organization: [],
  ou: [],
  policy_identifiers: [],
  postal_code: [],
  province: [],
  serial_number_source: 'json-csr',
  signature_bits: 0,
  street_address: [],
  use_pss: false,
  // (allow_token_displayname is read back but ignored on write: not comparable)
};

/** Kubernetes auth role, minus what authRoleBody sets. A write updates only the fields sent. */
export const AUTH_ROLE_DEFAULTS: Readonly<Record<string, unknown>> = {
  token_bound_cidrs: [],
  token_explicit_max_ttl: 0,
  token_num_uses: 0,
  token_period: 0,
};

/** Kubernetes auth config, minus host and CA. A write replaces the whole config. */
export const AUTH_CONFIG_DEFAULTS: Readonly<Record<string, unknown>> = {
  disable_iss_validation: true,
  disable_local_ca_jwt: false,
  issuer: '',
  pem_keys: [],
  use_annotations_as_alias_metadata: false,
};

/**
 * A PKI mount's tuning as sys/mounts answers it. Vault lists the optional
 * ones only once set. force_no_cache is left out: a tune cannot change it.
 */
export const MOUNT_TUNE_DEFAULTS: Readonly<Record<string, unknown>> = {
  default_lease_ttl: 0,
  listing_visibility: '',
  allowed_managed_keys: [],
  delegated_auth_accessors: [],
};

/** `<mount>/config/urls`; a write updates only the fields sent. */
export const URLS_DEFAULTS: Readonly<Record<string, unknown>> = {
  delta_crl_distribution_points: [],
  enable_templating: false,
  ocsp_servers: [],
};

/** `<mount>/config/crl`; a write updates only the fields sent. */
export const CRL_DEFAULTS: Readonly<Record<string, unknown>> = {
  auto_rebuild_grace_period: '12h',
  cross_cluster_revocation: false,
  delta_rebuild_interval: '15m',
  enable_delta: false,
  max_crl_entries: 100000,
  ocsp_disable: false,
  ocsp_expiry: '12h',
  unified_crl: false,
  unified_crl_on_existing_paths: false,
};

/** `<mount>/config/auto-tidy`; a write updates only the fields sent. */
export const AUTO_TIDY_DEFAULTS: Readonly<Record<string, unknown>> = {
  acme_account_safety_buffer: 2592000,
  issuer_safety_buffer: 31536000,
  maintain_stored_certificate_counts: false,
  max_startup_backoff_duration: 900,
  min_startup_backoff_duration: 300,
  pause_duration: '0s',
  publish_stored_certificate_count_metrics: false,
  revocation_queue_safety_buffer: 172800,
  tidy_acme: false,
  tidy_cert_metadata: false,
  tidy_cmpv2_nonce_store: false,
  tidy_cross_cluster_revoked_certs: false,
  tidy_move_legacy_ca_bundle: false,
  tidy_revocation_queue: false,
};

/**
 * The body to compare with `current` and to write: Vault's default for each
 * field of `defaults` that `current` holds, then ours on top. Nothing read
 * yet (the object is to be created): ours only, Vault fills in the rest.
 */
export function fullBody(
  ours: Record<string, unknown>,
  defaults: Readonly<Record<string, unknown>>,
  current: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (current) for (const [k, v] of Object.entries(defaults)) if (k in current) out[k] = v;
  return { ...out, ...ours };
}
