// The Vault token lives here, in memory only. It is re-used while valid and
// replaced by a fresh Kubernetes-auth login before it expires or after a 403;
// the service-account token is re-read at every login (projected tokens rotate).

import type { TokenSource } from '../identity/token.ts';
import type { VaultClient } from './client.ts';

export interface Clock {
  now(): number;
}

export interface VaultLogin {
  /** A token good for at least the next request. */
  token(): Promise<string>;
  /** Forget the token (after a 403): the next `token()` logs in again. */
  invalidate(): void;
  /** Logs in now, whether or not the current token is still good. */
  login(): Promise<string>;
}

interface Held {
  token: string;
  /** ms epoch after which we stop using it; Infinity for tokens without a TTL */
  useUntil: number;
}

/** Re-login once this share of the token's TTL has passed, so a request never races expiry. */
const USE_FOR = 0.8;

export function kubernetesLogin(opts: { vault: VaultClient; mount: string; role: string; tokenSource: TokenSource; clock?: Clock }): VaultLogin {
  const clock = opts.clock ?? Date;
  let held: Held | undefined;
  let inflight: Promise<string> | undefined;

  async function login(): Promise<string> {
    const jwt = await opts.tokenSource.read();
    const started = clock.now();
    const res = await opts.vault.request<{ auth: { client_token: string; lease_duration: number } }>({
      method: 'POST',
      path: `auth/${opts.mount}/login`,
      body: { role: opts.role, jwt },
      op: 'login',
    });
    const ttl = res.auth.lease_duration;
    held = { token: res.auth.client_token, useUntil: ttl > 0 ? started + ttl * 1000 * USE_FOR : Infinity };
    return held.token;
  }

  return {
    async token() {
      if (held && clock.now() < held.useUntil) return held.token;
      // One login at a time: concurrent callers share it.
      inflight ??= login().finally(() => (inflight = undefined));
      return inflight;
    },
    invalidate() {
      held = undefined;
    },
    login() {
      inflight ??= login().finally(() => (inflight = undefined));
      return inflight;
    },
  };
}
