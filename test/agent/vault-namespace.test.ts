// VAULT_NAMESPACE reaches Vault as the X-Vault-Namespace header on every
// request, seen in Vault's own audit log (the dev server is Vault community
// edition, which has no namespaces and serves the root one whatever the header
// says — so the issue still succeeds, and the log shows what was sent).

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { vault } from '../ground/context.ts';
import { agentArgs, auditRequests, cleanEnv, meshPki, runCli, type MeshPki } from './fixture.ts';

let m: MeshPki;
beforeAll(async () => {
  m = await meshPki();
  // Audit devices log a request header only once it is named here (server-wide; harmless to other files).
  await vault('PUT', 'sys/config/auditing/request-headers/X-Vault-Namespace', { hmac: false });
});

const out = () => mkdtemp(join(tmpdir(), 'vpa-ns-'));

/** The X-Vault-Namespace values of the login and issue requests init made since `since` requests. */
async function namespacesSent(since: { login: number; issue: number }) {
  const logins = (await auditRequests(m, `auth/${m.authMount}/login`)).slice(since.login);
  const issues = (await auditRequests(m, `${m.pkiMount}/issue/`)).slice(since.issue);
  expect(logins.length).toBe(1);
  expect(issues.length).toBe(1);
  return [...logins, ...issues].map((e) => e.request.headers?.['x-vault-namespace']);
}

const counts = async () => ({ login: (await auditRequests(m, `auth/${m.authMount}/login`)).length, issue: (await auditRequests(m, `${m.pkiMount}/issue/`)).length });

describe('the Vault namespace', () => {
  it('VAULT_NAMESPACE is sent as X-Vault-Namespace with the login and the issue', async () => {
    const since = await counts();
    const r = await runCli(['init', ...agentArgs(m, await out())], { ...cleanEnv(), VAULT_NAMESPACE: 'team-a/mesh' });
    expect(r.code, r.stderr).toBe(0);
    expect(await namespacesSent(since)).toEqual([['team-a/mesh'], ['team-a/mesh']]);
  });

  it('--vault-namespace wins over VAULT_NAMESPACE', async () => {
    const since = await counts();
    const r = await runCli(['init', ...agentArgs(m, await out(), ['--vault-namespace=team-b'])], { ...cleanEnv(), VAULT_NAMESPACE: 'team-a' });
    expect(r.code, r.stderr).toBe(0);
    expect(await namespacesSent(since)).toEqual([['team-b'], ['team-b']]);
  });

  it('without either, no X-Vault-Namespace header is sent', async () => {
    const since = await counts();
    const r = await runCli(['init', ...agentArgs(m, await out())]);
    expect(r.code, r.stderr).toBe(0);
    expect(await namespacesSent(since)).toEqual([undefined, undefined]);
  });
});
