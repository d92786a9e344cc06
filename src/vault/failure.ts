// How a failed Vault call becomes an AgentError: by the HTTP status and
// Vault's `errors` array when Vault answered, by the socket's error code when
// it did not. Never by message text. The original error is not kept as
// `cause`: axios errors carry the request (token header, login JWT).

import { AgentError, type AgentErrorCode } from '../errors.ts';

export interface VaultCallInfo {
  op: string;
  /** `POST /v1/…`, for messages */
  target: string;
  origin: string;
  timeoutMs: number;
}

/** Vault's `consts.ErrSealed`: the one entry of `errors` it answers 503 with when sealed. */
const SEALED = 'Vault is sealed';

/** OpenSSL/Node verification failures: Vault's certificate is not trusted as configured. */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** axios' code for its per-request timeout (ETIMEDOUT when "clarified"). */
const TIMEOUT_CODES = new Set(['ECONNABORTED', 'ETIMEDOUT']);

const HINTS: Partial<Record<AgentErrorCode, string>> = {
  VAULT_SEALED: 'unseal Vault; the agent keeps retrying',
  VAULT_FORBIDDEN: 'check the Vault policy attached to this role',
  VAULT_NOT_FOUND: 'check the mount and role names',
  VAULT_UNREACHABLE: 'check the Vault address and that Vault is running',
  VAULT_TIMEOUT: 'Vault is slow or unreachable; the agent keeps retrying',
  VAULT_THROTTLED: "Vault's rate limit quota refused the request; the agent retries with backoff",
};

export function classify(status: number, errors: readonly string[]): AgentErrorCode {
  if (status === 503 && errors.includes(SEALED)) return 'VAULT_SEALED';
  if (status === 403 || status === 401) return 'VAULT_FORBIDDEN';
  if (status === 404) return 'VAULT_NOT_FOUND';
  // A quota, not a bad request: the same request succeeds later.
  if (status === 429) return 'VAULT_THROTTLED';
  if (status >= 400 && status < 500) return 'VAULT_BAD_REQUEST';
  return 'VAULT_SERVER';
}

const hint = (code: AgentErrorCode) => (HINTS[code] ? ` (${HINTS[code]})` : '');

/** The typed error for `err` thrown by node-vault, and the metrics label (status or error kind). */
export function vaultFailure(err: unknown, call: VaultCallInfo): { error: AgentError; label: string } {
  const e = err as { response?: { statusCode?: unknown; body?: unknown }; code?: unknown } | null;
  const status = e?.response?.statusCode;
  if (typeof status === 'number') {
    const body = e!.response!.body as { errors?: unknown } | string | undefined;
    const errors = typeof body === 'object' && Array.isArray(body?.errors) ? body.errors.map(String) : [];
    const code = classify(status, errors);
    // Not JSON (an HTML page from a proxy, say): show its start, the status says the rest.
    const why = errors.length ? errors.join('; ') : typeof body === 'string' && body ? body.slice(0, 200) : 'no body';
    const error = new AgentError(code, `Vault ${call.op} (${call.target}) answered ${status}: ${why}${hint(code)}`);
    return { error: Object.assign(error, { status, vaultErrors: errors }), label: String(status) };
  }
  const sysCode = typeof e?.code === 'string' ? e.code : 'unknown error';
  if (TIMEOUT_CODES.has(sysCode)) {
    return { error: new AgentError('VAULT_TIMEOUT', `Vault ${call.op} (${call.target}): no answer within ${call.timeoutMs} ms${hint('VAULT_TIMEOUT')}`), label: 'timeout' };
  }
  if (TLS_CODES.has(sysCode)) {
    const msg = `Vault ${call.op} (${call.target}) at ${call.origin}: ${sysCode} — TLS verification failed: set --vault-cacert to the CA of Vault's certificate`;
    return { error: new AgentError('VAULT_TLS', msg), label: 'error' };
  }
  return { error: new AgentError('VAULT_UNREACHABLE', `Vault ${call.op} (${call.target}) at ${call.origin}: ${sysCode}${hint('VAULT_UNREACHABLE')}`), label: 'error' };
}
