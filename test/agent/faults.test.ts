// Every failure path of `run`: Vault stopped, sealed, answering 5xx or too
// slowly, its token revoked; the token file rotated; the out dir unwritable;
// the agent killed mid-write. Each time the old files stay, readiness holds
// until expiry, and renewal resumes once the fault is gone.

import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { saToken, stack, vault as stackVault, vaultCaPem } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { FileVault } from '../ground/stack/vault.ts';
import { faultProxy, type FaultProxy } from './fault-proxy.ts';
import { agentArgs, auditRequests, meshPki, runCli, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

const run = promisify(execFile);
const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

const serial = async (dir: string) => new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).serialNumber;
const notAfter = async (dir: string) => Date.parse(new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).validTo);
const failures = async (port: number) => Number(/vault_pki_agent_renewals_total\{result="failure"\} (\d+)/.exec(await scrape(port, '/metrics'))?.[1] ?? 0);

async function startAgent(m: MeshPki, extra: string[] = []) {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-fault-'));
  const port = await freePort();
  const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=6s', '--vault-timeout=2s', `--listen=127.0.0.1:${port}`, ...extra])]);
  children.push(child);
  await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { what: () => child.output() });
  return { dir, port, child };
}

/** Holds the fault until a renewal has failed, checks the old files stayed and readiness held, then lifts it. */
async function survive(a: Awaited<ReturnType<typeof startAgent>>, inject: () => Promise<void>, lift: () => Promise<void>) {
  const before = await serial(a.dir);
  const expiry = await notAfter(a.dir);
  await inject();
  await waitFor(async () => (await failures(a.port)) >= 1, { timeoutMs: 20_000, what: () => a.child.output().slice(-3000) });
  expect(await serial(a.dir)).toBe(before);
  // Read first, then the clock: if the read ended before expiry, the agent had a valid
  // certificate throughout it and must have said ready. A first failure so late that
  // the certificate had run out fails here instead of skipping the check.
  const readiness = await scrape(a.port, '/readyz');
  expect(Date.now(), 'the first renewal failure came only after the certificate expired').toBeLessThan(expiry);
  expect(readiness).toBe('ready\n');
  await lift();
  const lifted = Date.now();
  await waitFor(async () => (await serial(a.dir)) !== before, { timeoutMs: 30_000, what: () => a.child.output().slice(-3000) });
  return { recoveredInMs: Date.now() - lifted };
}

describe('faults against a file-storage Vault', () => {
  let fv: FileVault;
  let m: MeshPki;
  let proxy: FaultProxy;

  beforeAll(async () => {
    fv = await new FileVault({ dir: await mkdtemp(join(tmpdir(), 'vpa-fv-')), bin: stack().vaultBin, caPem: vaultCaPem(), tls: stack().vaultTls }).start();
    m = await meshPki({ target: fv, ttl: '6s', maxTtl: '1h', notBefore: '1s' });
    proxy = await faultProxy({ upstream: fv.addr, caPem: vaultCaPem(), tls: stack().vaultTls, slowMs: 5_000 });
  });
  afterAll(async () => {
    await proxy?.close();
    await fv?.stop();
  });

  it('keeps the old files while Vault is stopped, stays ready until expiry, and renews soon after Vault returns', async () => {
    const a = await startAgent(m);
    const expiry = await notAfter(a.dir);
    const { recoveredInMs } = await survive(
      a,
      () => fv.stop(),
      async () => {
        // Past expiry with Vault still down, readiness must drop: no valid certificate left.
        await waitFor(() => Date.now() > expiry + 100, { timeoutMs: 15_000 });
        expect((await scrape(a.port, '/readyz').catch(() => ''))).toMatch(/no valid certificate/);
        await fv.start();
      },
    );
    // Within one backoff step: after ~4 failed attempts the full-jitter ceiling is 16 s.
    expect(recoveredInMs).toBeLessThan(20_000);
  });

  it('rides out a sealed Vault and renews once it is unsealed', async () => {
    const a = await startAgent(m);
    await survive(a, () => fv.seal(), () => fv.unseal());
    expect(a.child.output()).toMatch(/VAULT_SEALED/);
  });

  it('backs off on 5xx answers (fault-injecting proxy) and renews when they stop', async () => {
    const a = await startAgent({ ...m, addr: proxy.addr });
    await survive(a, async () => void (proxy.mode = 'error500'), async () => void (proxy.mode = 'pass'));
    expect(a.child.output()).toMatch(/VAULT_SERVER/);
  });

  it('treats a Vault slower than --vault-timeout as down (fault-injecting proxy) and recovers', async () => {
    const a = await startAgent({ ...m, addr: proxy.addr });
    await survive(a, async () => void (proxy.mode = 'slow'), async () => void (proxy.mode = 'pass'));
    expect(a.child.output()).toMatch(/VAULT_TIMEOUT/);
  });

  it('keeps the old files while the out dir cannot be written, then renews into it', async () => {
    const a = await startAgent(m);
    await survive(
      a,
      () => run('chattr', ['+i', a.dir]).then(() => undefined),
      () => run('chattr', ['-i', a.dir]).then(() => undefined),
    );
    expect(a.child.output()).toMatch(/"code":"OUTPUT"/);
  });
});

describe('Vault and service-account tokens', () => {
  let m: MeshPki;
  beforeAll(async () => {
    m = await meshPki({ ttl: '6s', maxTtl: '1h', notBefore: '1s' });
  });

  it('logs in again after its Vault token is revoked (403), without a failed renewal', async () => {
    const a = await startAgent(m);
    const logins = (await auditRequests(m, `auth/${m.authMount}/login`)).length;
    await stackVault('PUT', `sys/leases/revoke-prefix/auth/${m.authMount}/login`, {});
    const before = await serial(a.dir);
    await waitFor(async () => (await serial(a.dir)) !== before, { timeoutMs: 15_000, what: () => a.child.output() });
    expect((await auditRequests(m, `auth/${m.authMount}/login`)).length).toBe(logins + 1);
    expect(await failures(a.port)).toBe(0);
  });

  it('uses the rotated token file at the next login', async () => {
    const a = await startAgent(m);
    const fresh = await saToken(m.ns, m.sa);
    await writeFile(m.tokenFile, fresh);
    await stackVault('PUT', `sys/leases/revoke-prefix/auth/${m.authMount}/login`, {});
    await waitFor(async () => (await auditRequests(m, `auth/${m.authMount}/login`)).some((r) => r.request.data?.jwt === fresh), {
      timeoutMs: 15_000,
      what: () => a.child.output(),
    });
  });
});

describe('killed mid-write', () => {
  it('leaves a whole set after SIGKILL at eight moments, which the next start verifies and reuses or replaces', async () => {
    const m = await meshPki({ ttl: '2s', maxTtl: '1h', notBefore: '1s' });
    const dir = await mkdtemp(join(tmpdir(), 'vpa-kill-'));
    let linkedSets = 0;
    for (let i = 0; i < 8; i++) {
      const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=2s', '--listen=127.0.0.1:0'])]);
      // Spread over start-up, the first write and the renewals that follow (every ~1 s).
      await new Promise((r) => setTimeout(r, 300 + i * 250));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const entries = await readdir(dir);
      if (!entries.includes('..data')) {
        // Killed before its first commit: no file may point into a set that is not there.
        expect(entries.filter((e) => !e.startsWith('..')), entries.join(' ')).toEqual([]);
        continue;
      }
      linkedSets++;
      const report = JSON.parse((await runCli(['inspect', dir, '--json'])).stdout);
      expect(report.keyMatches, JSON.stringify(report)).toBe(true);
      expect(report.chainVerified, JSON.stringify(report)).toBe(true);
    }
    expect(linkedSets, 'no kill came after a first write: the test saw no set to check').toBeGreaterThan(0);

    // What the next start must do depends on what the last kill left: a set still
    // fresh is reused (no issue call, same serial), anything else is replaced.
    const left = JSON.parse((await runCli(['inspect', dir, '--json'])).stdout);
    const issuedBefore = (await auditRequests(m, `${m.pkiMount}/issue/`)).length;
    const final = await runCli(['init', ...agentArgs(m, dir, ['--log-level=info'])]);
    expect(final.code, final.stderr).toBe(0);
    const now = JSON.parse((await runCli(['inspect', dir, '--json'])).stdout);
    expect(now.sound, JSON.stringify(now)).toBe(true);
    const issuedAfter = (await auditRequests(m, `${m.pkiMount}/issue/`)).length;
    if (/reusing the still-valid certificate/.test(final.stdout)) {
      expect(left.sound, JSON.stringify(left)).toBe(true);
      expect(now.serial).toBe(left.serial);
      expect(issuedAfter).toBe(issuedBefore);
    } else {
      expect(final.stdout).toMatch(/not reusable|not a usable credential set/);
      expect(now.serial).not.toBe(left.serial);
      expect(issuedAfter).toBe(issuedBefore + 1);
    }
  }, 120_000);
});
