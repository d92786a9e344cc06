// The one error type the CLI maps to exit codes. Callers switch on `code`,
// never on message text; messages name the operation, its target and a fix.

export type AgentErrorCode =
  | 'USAGE' // bad flag, bad config value: exit 2, before any side effect
  | 'CONFIG'
  | 'TOKEN_FILE' // service-account token missing or not a JWT
  | 'VAULT_UNREACHABLE'
  | 'VAULT_TLS' // Vault's certificate failed verification: a configuration problem, not retried by init
  | 'VAULT_TIMEOUT'
  | 'VAULT_SEALED'
  | 'VAULT_FORBIDDEN'
  | 'VAULT_NOT_FOUND'
  | 'VAULT_BAD_REQUEST'
  | 'VAULT_SERVER'
  | 'VAULT_THROTTLED' // 429: Vault's rate limit quota; retried with backoff like a 5xx
  | 'CERT_INVALID' // Vault answered with something we refuse to write
  | 'OUTPUT' // the out dir cannot be written
  | 'RUNTIME';

// A missing or malformed token file is a pod-spec mistake, found before any side effect.
const USAGE_CODES: ReadonlySet<AgentErrorCode> = new Set(['USAGE', 'CONFIG', 'TOKEN_FILE']);

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AgentError';
    this.code = code;
  }

  /** 2 for usage/configuration errors (nothing was touched), 1 for everything at runtime. */
  get exitCode(): 1 | 2 {
    return USAGE_CODES.has(this.code) ? 2 : 1;
  }
}

export function isAgentError(err: unknown, ...codes: AgentErrorCode[]): err is AgentError {
  return err instanceof AgentError && (codes.length === 0 || codes.includes(err.code));
}

/** An error's code, or the first line of its message, short: for a problem line (a YAML error's later lines quote the file, which may hold a token). */
export function briefly(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  return String(e?.message ?? err).split('\n')[0]!.slice(0, 160);
}
