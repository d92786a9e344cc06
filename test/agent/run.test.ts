// `vault-pki-agent run` against the real stack: rotations at the grace point,
// never a mismatched key/cert pair for a reader, self-healing, metrics and
// health, a clean SIGTERM, and logs without secrets.

import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readlink, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../ground/stack/process.ts';
import { agentArgs, auditRequests, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { auditedIssues, plannedRenewals, planRecorder } from './renewal-timing.ts';
import { waitFor, scrape, stopGracefully } from './wait.ts';

let m: MeshPki;
const children: ReturnType<typeof spawnCli>[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});

beforeAll(async () => {
  // Lifetime = ttl + not_before_duration: 4 s + 1 s, so a rotation every ~2.5 s.
  m = await meshPki({ ttl: '4s', maxTtl: '1h', notBefore: '1s' });
});

/** Reads key and chain from one `..data` snapshot, as AtomicWriter readers do. */
async function snapshotPair(dir: string): Promise<'match' | 'mismatch' | 'none'> {
  try {
    const target = await readlink(join(dir, '..data'));
    const [key, chain] = await Promise.all([readFile(join(dir, target, 'key.pem')), readFile(join(dir, target, 'cert-chain.pem'))]);
    return new X509Certificate(chain).checkPrivateKey(createPrivateKey(key)) ? 'match' : 'mismatch';
  } catch {
    return 'none'; // swept between readlink and open: the next read sees the new set
  }
}

describe('run', () => {
  it('plans each renewal for when 50% ± 5% of the lifetime is left (--grace-ratio 0.5 --jitter 0.05) and asks no earlier, and a concurrent reader sees 0 key/cert mismatches over 20 rotations', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-run-'));
    const port = await freePort();
    const started = Date.now();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', '--grace-ratio=0.5', '--jitter=0.05', `--listen=127.0.0.1:${port}`])]);
    children.push(child);
    const plans = planRecorder(port);
    const serials: string[] = [];
    let mismatches = 0;
    let reads = 0;
    await waitFor(async () => {
      const pair = await snapshotPair(dir);
      if (pair === 'mismatch') mismatches++;
      if (pair !== 'none') reads++;
      const pem = await readFile(join(dir, 'cert-chain.pem'), 'utf8').catch(() => '');
      if (pem) {
        const serial = new X509Certificate(pem).serialNumber;
        if (serials.at(-1) !== serial) serials.push(serial);
      }
      return serials.length >= 21;
    }, { timeoutMs: 150_000, intervalMs: 5, what: () => `21 certificates (have ${serials.length}); agent said:\n${child.output().slice(-2000)}` });
    expect(mismatches).toBe(0);
    expect(reads).toBeGreaterThan(200);
    // Each renewal was planned for when 50% ± 5% (the jitter) of the certificate's
    // lifetime was left, and asked for no earlier. The lifetime counts from Vault's
    // answer, a moment before the agent's receipt (its Agent.validFrom), which can only
    // lower the share: the window is the jitter's, widened by 0.02 downwards alone.
    const renewals = plannedRenewals(await auditedIssues(m, started), await plans.stop());
    expect(renewals.length, 'plans seen in /metrics').toBeGreaterThanOrEqual(15);
    for (const r of renewals) {
      expect(r.shareLeft, JSON.stringify(renewals)).toBeGreaterThan(0.45 - 0.02);
      expect(r.shareLeft, JSON.stringify(renewals)).toBeLessThanOrEqual(0.55);
    }
    // Vault's clock is this machine's; the audit log has ns, the gauge ms: 1 ms of rounding.
    const askedAfter = renewals.flatMap((r) => (r.askedAfterMs === undefined ? [] : [r.askedAfterMs]));
    expect(askedAfter.length).toBeGreaterThanOrEqual(14);
    expect(Math.min(...askedAfter), JSON.stringify(renewals)).toBeGreaterThanOrEqual(-1);
    const metrics = await scrape(port, '/metrics');
    expect(metrics).toMatch(/vault_pki_agent_renewals_total\{result="success"\} \d+/);
    expect(metrics).toMatch(/vault_pki_agent_cert_expiry_timestamp_seconds \d+/);
    expect(metrics).toMatch(/vault_pki_agent_next_renewal_timestamp_seconds \d+/);
    expect(metrics).toMatch(/vault_pki_agent_vault_requests_total\{code="200",op="issue"\} \d+/);
    expect(metrics).toMatch(/vault_pki_agent_vault_request_duration_seconds_bucket\{op="issue",le="0.1"\}/);
    expect(await scrape(port, '/readyz')).toBe('ready\n');
  }, 200_000);

  it('rewrites deleted files from memory without a new issue call', async () => {
    const long = await meshPki();
    const dir = await mkdtemp(join(tmpdir(), 'vpa-heal-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(long, dir, [`--listen=127.0.0.1:${port}`])]);
    children.push(child);
    await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { what: () => child.output() });
    const issued = (await auditRequests(long, `${long.pkiMount}/issue/`)).length;
    const before = await readFile(join(dir, 'key.pem'), 'utf8');
    await unlink(join(dir, 'key.pem'));
    await rm(join(dir, '..data'));
    // The files are back before the heal finishes (it still syncs and sweeps), so wait for its count too.
    await waitFor(async () => (await readFile(join(dir, 'key.pem'), 'utf8').catch(() => '')) === before && /self_heal_total \d/.test(await scrape(port, '/metrics')), {
      what: () => child.output(),
    });
    expect((await auditRequests(long, `${long.pkiMount}/issue/`)).length).toBe(issued);
    expect(await scrape(port, '/metrics')).toMatch(/vault_pki_agent_self_heal_total 1/);
  });

  it('rewrites a file edited in place from memory without a new issue call', async () => {
    const long = await meshPki();
    const dir = await mkdtemp(join(tmpdir(), 'vpa-edit-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(long, dir, [`--listen=127.0.0.1:${port}`])]);
    children.push(child);
    await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { what: () => child.output() });
    const issued = (await auditRequests(long, `${long.pkiMount}/issue/`)).length;
    const before = await readFile(join(dir, 'cert-chain.pem'), 'utf8');
    // Through the symlink into the current `..data` folder: the set on disk no longer matches memory.
    await writeFile(join(dir, 'cert-chain.pem'), `${before}# edited by hand\n`);
    expect(await readFile(join(dir, 'cert-chain.pem'), 'utf8')).not.toBe(before);
    await waitFor(async () => (await readFile(join(dir, 'cert-chain.pem'), 'utf8').catch(() => '')) === before && /self_heal_total 1/.test(await scrape(port, '/metrics')), {
      what: () => child.output(),
    });
    expect((await auditRequests(long, `${long.pkiMount}/issue/`)).length).toBe(issued);
  });

  it('stops within 1 s of SIGTERM with exit 0 and a whole credential set', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-term-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', `--listen=127.0.0.1:${port}`])]);
    await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { what: () => child.output() });
    const t0 = Date.now();
    const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1_000);
    expect(await snapshotPair(dir)).toBe('match');
  });

  it('with debug logging through issue and renewals logs neither the Vault token, nor the JWT, nor a private key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-log-'));
    const port = await freePort();
    const child = spawnCli(['run', ...agentArgs(m, dir, ['--ttl=4s', '--log-level=trace', `--listen=127.0.0.1:${port}`])]);
    children.push(child);
    await waitFor(async () => (child.output().match(/"why":"issued"/g) ?? []).length >= 3, { timeoutMs: 30_000, what: () => child.output() });
    await stopGracefully(child);
    const log = child.output();
    const jwt = (await readFile(m.tokenFile, 'utf8')).trim();
    const logins = await auditRequests(m, `auth/${m.authMount}/login`);
    expect(log).not.toContain(jwt);
    expect(log).not.toContain(jwt.split('.')[2]!);
    expect(log).not.toMatch(/PRIVATE KEY/);
    expect(log).not.toMatch(/hvs\.[A-Za-z0-9_-]{20,}/);
    const responses = (await readFile(m.auditFile, 'utf8')).split('\n').filter((l) => l.includes('"type":"response"') && l.includes(`auth/${m.authMount}/login`));
    const tokens = responses.map((r) => JSON.parse(r).auth?.client_token).filter(Boolean);
    expect(logins.length).toBeGreaterThan(0);
    expect(tokens.length).toBeGreaterThan(0);
    for (const token of tokens) expect(log).not.toContain(token);
    expect(log).toMatch(/"level":"debug"/);
  });
});
