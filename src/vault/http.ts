// A small Vault HTTP API client on node:http(s). It knows transport, TLS and
// how Vault reports errors; it knows nothing about PKI or auth methods.
// Why not node-vault: it pulls in axios (+29 MiB RSS per sidecar, see
// bench/README.md), follows proxy env vars and treats any non-empty
// VAULT_SKIP_VERIFY as "skip" — all three wrong for a per-pod sidecar.

import { AgentError, type AgentErrorCode } from '../errors.ts';
import { http, https } from '../node-builtins.ts';

export interface VaultHttpOptions {
  /** e.g. https://vault.vault.svc:8200 */
  address: string;
  /** PEM text of the CA that signs Vault's serving certificate */
  caPem?: string | undefined;
  namespace?: string | undefined;
  /** only for labs; logged loudly by the caller */
  skipVerify?: boolean;
  /** per request; Vault that answers slower than this counts as down */
  timeoutMs?: number;
  /** called after every request, for metrics */
  onResponse?: (event: { op: string; code: string; seconds: number }) => void;
}

export interface VaultRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE'; // LIST is sent as GET ?list=true
  /** path under /v1/, e.g. `pki_istio/issue/istio-workload` */
  path: string;
  body?: unknown;
  token?: string | undefined;
  /** short, fixed label for metrics and errors, e.g. `login`, `issue` */
  op: string;
}

export interface VaultHttp {
  request<T = any>(req: VaultRequest): Promise<T>;
  readonly address: string;
}

function classify(status: number, errors: string[]): AgentErrorCode {
  if (status === 503 && errors.some((e) => /sealed/i.test(e))) return 'VAULT_SEALED';
  if (status === 403 || status === 401) return 'VAULT_FORBIDDEN';
  if (status === 404) return 'VAULT_NOT_FOUND';
  if (status >= 400 && status < 500) return 'VAULT_BAD_REQUEST';
  return 'VAULT_SERVER';
}

const HINTS: Partial<Record<AgentErrorCode, string>> = {
  VAULT_SEALED: 'unseal Vault; the agent keeps retrying',
  VAULT_FORBIDDEN: 'check the Vault policy attached to this role',
  VAULT_NOT_FOUND: 'check the mount and role names',
  VAULT_UNREACHABLE: 'check the Vault address and that Vault is running',
  VAULT_TIMEOUT: 'Vault is slow or unreachable; the agent keeps retrying',
};

export function createVaultHttp(options: VaultHttpOptions): VaultHttp {
  const base = new URL(options.address);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new AgentError('CONFIG', `Vault address ${options.address} must start with http:// or https://`);
  }
  const isTls = base.protocol === 'https:';
  const agent = isTls
    ? new https.Agent({ keepAlive: true, ca: options.caPem, rejectUnauthorized: !options.skipVerify })
    : new http.Agent({ keepAlive: true });
  const timeoutMs = options.timeoutMs ?? 10_000;
  const prefix = base.pathname.replace(/\/$/, '');

  function request<T>(req: VaultRequest): Promise<T> {
    const started = performance.now();
    const target = `${req.method} /v1/${req.path}`;
    const done = (code: string): void =>
      options.onResponse?.({ op: req.op, code, seconds: (performance.now() - started) / 1000 });
    const headers: Record<string, string> = { 'X-Vault-Request': 'true', Accept: 'application/json' };
    if (req.token) headers['X-Vault-Token'] = req.token;
    if (options.namespace) headers['X-Vault-Namespace'] = options.namespace;
    const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
    if (payload) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    }
    const transport = isTls ? https : http;
    return new Promise<T>((resolve, reject) => {
      const r = transport.request(
        {
          protocol: base.protocol,
          hostname: base.hostname,
          port: base.port,
          path: `${prefix}/v1/${req.path}`,
          method: req.method,
          headers,
          agent,
          timeout: timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => {
            done('error');
            reject(new AgentError('VAULT_UNREACHABLE', `Vault ${req.op} (${target}): response broken: ${err.message}`));
          });
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            let json: any = undefined;
            try {
              json = text ? JSON.parse(text) : undefined;
            } catch {
              /* an HTML error page from a proxy, say: reported below by status */
            }
            done(String(status));
            if (status >= 200 && status < 300) return resolve(json as T);
            const errors: string[] = Array.isArray(json?.errors) ? json.errors.map(String) : [];
            const code = classify(status, errors);
            const why = errors.length ? errors.join('; ') : text.slice(0, 200) || 'no body';
            const hint = HINTS[code] ? ` (${HINTS[code]})` : '';
            const err = new AgentError(code, `Vault ${req.op} (${target}) answered ${status}: ${why}${hint}`);
            Object.assign(err, { status, vaultErrors: errors });
            reject(err);
          });
        },
      );
      r.on('timeout', () => r.destroy(new AgentError('VAULT_TIMEOUT', `Vault ${req.op} (${target}): no answer within ${timeoutMs} ms (${HINTS.VAULT_TIMEOUT})`)));
      r.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof AgentError) {
          done('timeout');
          return reject(err);
        }
        done('error');
        const tls = /certificate|self.signed|SSL|TLS/i.test(`${err.code} ${err.message}`);
        reject(
          new AgentError(
            tls ? 'VAULT_TLS' : 'VAULT_UNREACHABLE',
            `Vault ${req.op} (${target}) at ${base.origin}: ${err.code ?? err.message}` +
              (tls ? ` — TLS verification failed: set --vault-cacert to the CA of Vault's certificate` : ` (${HINTS.VAULT_UNREACHABLE})`),
            { cause: err },
          ),
        );
      });
      r.end(payload);
    });
  }

  return { request, address: base.origin };
}

/** The status code of a Vault error, when it carried one. */
export function vaultStatus(err: unknown): number | undefined {
  return (err as { status?: number } | null)?.status;
}
