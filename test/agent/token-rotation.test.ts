// The kubelet rotates a projected service-account token the AtomicWriter way:
// a new `..<timestamp>` folder, a `..data_tmp` symlink renamed over `..data`,
// the old folder removed; `token` itself is a symlink through `..data` and is
// never written in place. `run` must notice that swap and use the new token.
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { saToken } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { agentArgs, auditRequests, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

let m: MeshPki;
beforeAll(async () => {
  m = await meshPki();
});

/** A projected-volume folder as the kubelet lays it out, and its swap. */
async function projectedVolume(first: string) {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-projected-'));
  let generation = 0;
  let current: string | undefined;
  const swap = async (jwt: string) => {
    const next = `..2026_01_01_00_00_0${generation++}.${process.pid}`;
    await mkdir(join(dir, next));
    await writeFile(join(dir, next, 'token'), jwt, { mode: 0o600 });
    await symlink(next, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current) await rm(join(dir, current), { recursive: true });
    current = next;
  };
  await swap(first);
  await symlink('..data/token', join(dir, 'token'));
  return { tokenPath: join(dir, 'token'), swap };
}

const failures = async (port: number) => Number(/vault_pki_agent_renewals_total\{result="failure"\} (\d+)/.exec(await scrape(port, '/metrics'))?.[1] ?? 0);

describe('projected token rotation', () => {
  it('after a kubelet-style ..data swap, a failing agent retries at once with the new token and gets its certificate', async () => {
    // The first token is for the right service account but the wrong audience: Vault refuses it.
    const refused = await saToken(m.ns, m.sa, { audience: 'not-vault' });
    const volume = await projectedVolume(refused);
    const dir = await mkdtemp(join(tmpdir(), 'vpa-rot-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(m, dir, [`--token-path=${volume.tokenPath}`, `--listen=127.0.0.1:${port}`])]);
    children.push(child);
    // Failing and watching: the first issuance and at least one backoff retry failed.
    await waitFor(async () => /watching the out dir and the token folder/.test(child.output()) && (await failures(port).catch(() => 0)) >= 1, {
      what: () => child.output(),
    });
    expect(await scrape(port, '/readyz')).not.toBe('ready\n');
    // Alive all the same: /healthz is the process, /readyz the certificate.
    expect(await scrape(port, '/healthz')).toBe('ok\n');

    const fresh = await saToken(m.ns, m.sa);
    await volume.swap(fresh);
    await waitFor(async () => (await scrape(port, '/readyz')) === 'ready\n', { timeoutMs: 20_000, what: () => child.output() });
    const logins = await auditRequests(m, `auth/${m.authMount}/login`);
    expect(logins.some((r) => r.request.data?.jwt === fresh)).toBe(true);
    // The retry came from the watcher, not from the backoff timer running out.
    expect(child.output()).toMatch(/"msg":"service-account token changed; retrying now"/);
  });
});
