// The Vault token cache, with a fake clock and a fake Vault transport (named
// so: the real login is proven against the stack in test/agent).
import { describe, expect, it } from 'vitest';
import { kubernetesLogin } from '../../src/vault/auth.ts';
import type { VaultCall, VaultClient } from '../../src/vault/client.ts';

function fakeVault(ttlSeconds: number) {
  const logins: VaultCall[] = [];
  const http: VaultClient = {
    address: 'https://fake-vault',
    async request<T>(req: VaultCall): Promise<T> {
      logins.push(req);
      return { auth: { client_token: `token-${logins.length}`, lease_duration: ttlSeconds } } as T;
    },
  };
  return { http, logins };
}

describe('the Vault token cache', () => {
  it('re-uses the token while it is young and logs in again at 80% of its TTL', async () => {
    const clock = { t: 0, now: () => clock.t };
    const { http, logins } = fakeVault(100);
    const tokens = ['jwt-1', 'jwt-2'];
    const login = kubernetesLogin({ vault: http, mount: 'kubernetes', role: 'mesh', tokenSource: { path: '/t', read: async () => tokens[logins.length] ?? 'jwt-x' }, clock });
    expect(await login.token()).toBe('token-1');
    clock.t = 79_000;
    expect(await login.token()).toBe('token-1');
    clock.t = 80_000;
    expect(await login.token()).toBe('token-2');
    expect(logins.map((r) => (r.body as { jwt: string }).jwt)).toEqual(['jwt-1', 'jwt-2']); // the token file is re-read each login
  });

  it('forgets the token after invalidate() (a 403) and shares one login between concurrent callers', async () => {
    const { http, logins } = fakeVault(3600);
    const login = kubernetesLogin({ vault: http, mount: 'kubernetes', role: 'mesh', tokenSource: { path: '/t', read: async () => 'jwt' } });
    await Promise.all([login.token(), login.token(), login.token()]);
    expect(logins).toHaveLength(1);
    login.invalidate();
    expect(await login.token()).toBe('token-2');
  });

  it('sends the login to the configured mount with the role and never a token header', async () => {
    const { http, logins } = fakeVault(60);
    await kubernetesLogin({ vault: http, mount: 'k8s-east', role: 'web', tokenSource: { path: '/t', read: async () => 'jwt' } }).token();
    expect(logins[0]).toMatchObject({ method: 'POST', path: 'auth/k8s-east/login', body: { role: 'web', jwt: 'jwt' } });
    expect(logins[0]!.token).toBeUndefined();
  });
});
