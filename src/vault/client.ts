// Every Vault call of init/run and bootstrap goes through node-vault, set up
// here: our own TLS agent, namespace, timeout and token per request. What
// node-vault would read from the environment on its own is overridden, so only
// the validated configuration counts. Errors become typed AgentErrors (errors.ts).

import http from 'node:http';
import https from 'node:https';
import nodeVault from 'node-vault';
import { AgentError } from '../errors.ts';
import { vaultFailure, type VaultCallInfo } from './failure.ts';

export interface VaultClientOptions {
  /** e.g. https://vault.vault.svc:8200 (a path after the host is kept as a prefix) */
  address: string;
  /** PEM text of the CA that signs Vault's serving certificate */
  caPem?: string | undefined;
  namespace?: string | undefined;
  /** only for labs; the caller warns loudly */
  skipVerify?: boolean;
  /** per request; Vault that answers slower than this counts as down */
  timeoutMs?: number;
  /** called after every request, for metrics */
  onResponse?: (event: { op: string; code: string; seconds: number }) => void;
}

export interface VaultCall {
  method: 'GET' | 'LIST' | 'POST' | 'DELETE';
  /** path under /v1/, e.g. `pki_istio/issue/istio-workload` */
  path: string;
  body?: unknown;
  token?: string | undefined;
  /** short, fixed label for metrics and errors, e.g. `login`, `issue` */
  op: string;
}

export interface VaultClient {
  request<T = any>(call: VaultCall): Promise<T>;
  readonly address: string;
}

interface Answer {
  status: number;
  body: unknown;
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  let base: URL;
  try {
    base = new URL(options.address);
  } catch {
    throw new AgentError('CONFIG', `Vault address ${options.address} is not a URL; write it like https://vault.vault.svc:8200`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new AgentError('CONFIG', `Vault address ${options.address} must start with http:// or https://`);
  }
  const timeoutMs = options.timeoutMs ?? 10_000;
  // Our agent, not node-vault's: node-vault turns verification off for *any*
  // non-empty VAULT_SKIP_VERIFY; here only the validated skipVerify does.
  // Proxies: axios (under node-vault) honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY
  // and tunnels https with CONNECT, keeping this agent's CA for Vault's TLS.
  const transport =
    base.protocol === 'https:'
      ? { httpsAgent: new https.Agent({ keepAlive: true, ca: options.caPem, rejectUnauthorized: !options.skipVerify }) }
      : { httpAgent: new http.Agent({ keepAlive: true }) };
  const vault = nodeVault({
    endpoint: `${base.origin}${base.pathname.replace(/\/$/, '')}`,
    apiVersion: 'v1',
    // Vault's own Go client sends LIST as GET ?list=true, which proxies accept.
    noCustomHTTPVerbs: true,
    requestOptions: { ...transport, timeout: timeoutMs },
    // Read by node-vault only at construction: strict TLS for its default agent too.
    ...({ rpDefaults: { strictSSL: true } } as object),
  });
  // node-vault fills these from VAULT_TOKEN, VAULT_PREFIX and VAULT_NAMESPACE
  // when not given; the agent must not send a token it was never configured with.
  vault.token = '';
  Object.assign(vault, { pathPrefix: '', namespace: options.namespace ?? '' });
  // node-vault resolves only 200 and 204, but Vault also answers 202 (tidy, for
  // one): every 2xx is a success, and its status is kept for the metrics.
  const strict = vault.handleVaultResponse;
  vault.handleVaultResponse = (res) =>
    res && res.statusCode >= 200 && res.statusCode < 300 ? Promise.resolve({ status: res.statusCode, body: res.body } satisfies Answer) : strict(res);

  async function request<T>(call: VaultCall): Promise<T> {
    const started = performance.now();
    const info: VaultCallInfo = { op: call.op, target: `${call.method} /v1/${call.path}`, origin: base.origin, timeoutMs };
    const done = (code: string): void => options.onResponse?.({ op: call.op, code, seconds: (performance.now() - started) / 1000 });
    const headers: Record<string, string> = { 'X-Vault-Request': 'true' };
    if (call.token) headers['X-Vault-Token'] = call.token;
    const perCall = { headers };
    try {
      const answer: Answer =
        call.method === 'GET'
          ? await vault.read(call.path, perCall)
          : call.method === 'LIST'
            ? await vault.list(call.path, perCall)
            : call.method === 'DELETE'
              ? await vault.delete(call.path, perCall)
              : await vault.write(call.path, call.body ?? {}, perCall);
      done(String(answer.status));
      return (answer.body === '' ? undefined : answer.body) as T;
    } catch (err) {
      const failure = vaultFailure(err, info);
      done(failure.label);
      throw failure.error;
    }
  }

  return { request, address: base.origin };
}
