// Where the agent finds its service-account token without --token-path: the
// projected token (audience vault) at /var/run/secrets/vault-pki-agent/token,
// else the pod's service-account token. Those paths are fixed, so each run
// gets a private mount namespace with an empty tmpfs on /run (/var/run points
// there) holding only the files the case needs: the host's /run is untouched.
// Which file was read is proven by the JWT Vault's audit log saw at login.

import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { saToken } from '../ground/context.ts';
import { agentArgs, auditRequests, cleanEnv, CLI, meshPki, NODE, type MeshPki } from './fixture.ts';

const run = promisify(execFile);
const PROJECTED = '/var/run/secrets/vault-pki-agent/token';
const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount/token';

let m: MeshPki;
beforeAll(async () => {
  expect(process.getuid?.(), 'a private mount namespace needs root').toBe(0);
  m = await meshPki();
});

/** `init` with these files (path → JWT) as the only ones under /var/run; no --token-path. */
async function initWithTokens(tokens: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const work = await mkdtemp(join(tmpdir(), 'vpa-fallback-'));
  const copies: string[] = [];
  for (const [i, [path, jwt]] of Object.entries(tokens).entries()) {
    await writeFile(join(work, `t${i}`), jwt, { mode: 0o600 });
    copies.push(join(work, `t${i}`), path);
  }
  const args = agentArgs(m, join(work, 'out')).filter((a) => !a.startsWith('--token-path'));
  // sh: mount the tmpfs, copy each (source, destination) pair, then become the agent.
  const script = 'mount -t tmpfs vpa-test /run || exit 97; while [ "$1" != -- ]; do mkdir -p "$(dirname "$2")" && cp "$1" "$2" || exit 98; shift 2; done; shift; exec "$@"';
  try {
    const r = await run('unshare', ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'sh', ...copies, '--', NODE, CLI, 'init', ...args], { env: cleanEnv(), timeout: 60_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const lastLoginJwt = async () => (await auditRequests(m, `auth/${m.authMount}/login`)).at(-1)?.request.data?.jwt;

describe('the token without --token-path', () => {
  it('falls back to the service-account token when no projected token is mounted', async () => {
    const jwt = await saToken(m.ns, m.sa);
    const r = await initWithTokens({ [SERVICE_ACCOUNT]: jwt });
    expect(r.code, r.stderr).toBe(0);
    expect(await lastLoginJwt()).toBe(jwt);
  });

  it('prefers the projected token when both are mounted', async () => {
    const projected = await saToken(m.ns, m.sa);
    const serviceAccount = await saToken(m.ns, m.sa);
    expect(projected).not.toBe(serviceAccount);
    const r = await initWithTokens({ [PROJECTED]: projected, [SERVICE_ACCOUNT]: serviceAccount });
    expect(r.code, r.stderr).toBe(0);
    expect(await lastLoginJwt()).toBe(projected);
  });

  it('with neither, exits 2 naming the projected token path and --token-path', async () => {
    const before = (await auditRequests(m, `auth/${m.authMount}/login`)).length;
    const r = await initWithTokens({});
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(`cannot read the service-account token at ${PROJECTED} (ENOENT)`)]);
    expect(r.stderr).toMatch(/--token-path/);
    expect((await auditRequests(m, `auth/${m.authMount}/login`)).length).toBe(before);
  });
});
