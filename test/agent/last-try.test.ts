// "One last try just before expiry": while Vault fails, `run` backs off, but
// never past the moment 1 s before the certificate on disk runs out — it plans
// an attempt for exactly notAfter − 1 s and makes it. Against the real stack
// behind the fault-injecting proxy (500 answers on demand); the plan is read
// from the agent's next-renewal gauge, so no timing window is involved. The
// schedule itself, step by step on a fake clock: test/unit/renewal-loop.test.ts.

import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stack, vaultCaPem } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { faultProxy, type FaultProxy } from './fault-proxy.ts';
import { agentArgs, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

let m: MeshPki;
let proxy: FaultProxy;
const children: ReturnType<typeof spawnCli>[] = [];
beforeAll(async () => {
  m = await meshPki({ ttl: '8s', maxTtl: '1h', notBefore: '1s' });
  proxy = await faultProxy({ upstream: stack().vaultAddr, caPem: vaultCaPem(), tls: stack().vaultTls });
});
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => stopGracefully(c)));
});
afterAll(async () => {
  await proxy?.close();
});

const gauge = (text: string, name: string) => Number(new RegExp(`^${name}(?:\\{result="failure"\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

describe('renewal while Vault answers 500', () => {
  it('plans an attempt for exactly 1 s before the certificate expires, and makes it', async () => {
    proxy.mode = 'pass';
    const dir = await mkdtemp(join(tmpdir(), 'vpa-last-'));
    const port = await freePort();
    // No root mount: only issue requests reach the proxy once the token is cached.
    const child = spawnCli(['run', ...agentArgs({ ...m, addr: proxy.addr }, dir, ['--ttl=8s', '--root-mount=', `--listen=127.0.0.1:${port}`])]);
    children.push(child);
    await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { what: () => child.output() });
    const notAfter = Date.parse(new X509Certificate(await readFile(join(dir, 'cert-chain.pem'))).validTo);
    proxy.mode = 'error500';

    const lastChance = notAfter - 1_000;
    let failuresWhenPlanned = NaN;
    await waitFor(
      async () => {
        const text = await scrape(port, '/metrics');
        if (gauge(text, 'vault_pki_agent_next_renewal_timestamp_seconds') * 1000 !== lastChance) return false;
        failuresWhenPlanned = gauge(text, 'vault_pki_agent_renewals_total');
        return true;
      },
      { timeoutMs: 15_000, intervalMs: 20, what: () => `a renewal planned for notAfter − 1 s (${new Date(lastChance).toISOString()}); agent said:\n${child.output().slice(-2000)}` },
    );
    expect(failuresWhenPlanned).toBeGreaterThanOrEqual(1);
    // The planned attempt is made (and fails: Vault still answers 500) — before expiry, as planned.
    await waitFor(async () => gauge(await scrape(port, '/metrics'), 'vault_pki_agent_renewals_total') > failuresWhenPlanned, {
      timeoutMs: 10_000,
      what: () => `the last-chance attempt; agent said:\n${child.output().slice(-2000)}`,
    });
    expect(proxy.seen.filter((s) => s.startsWith('error500 POST') && s.includes(`/${m.pkiMount}/issue/`)).length).toBeGreaterThanOrEqual(2);
    proxy.mode = 'pass';
  }, 60_000);
});
