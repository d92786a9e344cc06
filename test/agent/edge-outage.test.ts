// An edge agent whose link to Vault drops for longer than half its
// certificate's lifetime (docs/edge.md): the certificate on disk never expires
// while the link is down, and once it is back the agent renews within one
// step of its own backoff. The link is the fault proxy's listener, closed and
// reopened: the agent meets the kernel's ECONNREFUSED, no fake answer.

import { X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffCeiling } from '../../src/renewal/schedule.ts';
import { stack, vaultCaPem } from '../ground/context.ts';
import { freePort } from '../ground/stack/process.ts';
import { faultProxy, type FaultProxy } from './fault-proxy.ts';
import { agentArgs, meshPki, spawnCli, type MeshPki } from './fixture.ts';
import { scrape, stopGracefully, waitFor } from './wait.ts';

const TTL_SECONDS = 60;
const VAULT_TIMEOUT_SECONDS = 5;

let m: MeshPki;
let proxy: FaultProxy;
let child: ReturnType<typeof spawnCli> | undefined;
beforeAll(async () => {
  m = await meshPki({ ttl: `${TTL_SECONDS}s`, maxTtl: '1h', notBefore: '1s' });
  proxy = await faultProxy({ upstream: stack().vaultAddr, caPem: vaultCaPem(), tls: stack().vaultTls });
});
afterAll(async () => {
  if (child) await stopGracefully(child);
  await proxy?.close();
});

interface Cert {
  serial: string;
  notBefore: number;
  notAfter: number;
}
async function cert(dir: string): Promise<Cert> {
  const c = new X509Certificate(await readFile(join(dir, 'cert-chain.pem')));
  return { serial: c.serialNumber, notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}
/** undefined in the instant a swap sweeps the folder a read had resolved: the next read sees the new set */
const tryCert = (dir: string) => cert(dir).catch(() => undefined);
const failures = async (port: number) => Number(/vault_pki_agent_renewals_total\{result="failure"\} (\d+)/.exec(await scrape(port, '/metrics'))?.[1] ?? 0);

/** When the agent logged writing the certificate with `serial` (pino's ISO time), from its own output. */
function writtenAt(output: string, serial: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"msg":"credentials written"')) continue;
    let entry: { time: string; serial: string };
    try {
      entry = JSON.parse(line);
    } catch {
      continue; // a line still being written
    }
    if (entry.serial.replace(/:/g, '').toUpperCase() === serial.toUpperCase()) return Date.parse(entry.time);
  }
  return undefined;
}

describe('edge: Vault unreachable for longer than half the lifetime', () => {
  it('keeps an unexpired certificate on disk through the outage and renews within one backoff step of the link coming back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-edge-'));
    // The token in a folder of its own, as in a pod: the fixture's folder also holds
    // Vault's audit log, whose every write would nudge a failing agent to retry at once.
    const tokenFile = join(await mkdtemp(join(tmpdir(), 'vpa-edge-token-')), 'token');
    await copyFile(m.tokenFile, tokenFile);
    const port = await freePort();
    child = spawnCli(['run', ...agentArgs({ ...m, addr: proxy.addr, tokenFile }, dir, [`--ttl=${TTL_SECONDS}s`, `--vault-timeout=${VAULT_TIMEOUT_SECONDS}s`, `--listen=127.0.0.1:${port}`])]);
    const agent = child;
    await waitFor(async () => (await scrape(port, '/readyz').catch(() => '')) === 'ready\n', { timeoutMs: 60_000, what: () => agent.output() });
    const first = await cert(dir);

    // The link drops right after a renewal (the outage an agent at ratio 0.5 can ride
    // past half the lifetime) and stays down for 55% of the certificate's full validity.
    const outageMs = Math.round(0.55 * (first.notAfter - first.notBefore));
    await proxy.unplug();
    const down = Date.now();

    // Sample what a reader of the volume sees, from the cut until the new certificate is in.
    const samples: { at: number; left: number; ready: boolean }[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const c = await tryCert(dir);
        const ready = (await scrape(port, '/readyz').catch(() => '')) === 'ready\n';
        if (c) samples.push({ at: Date.now(), left: c.notAfter - Date.now(), ready });
        await new Promise((r) => setTimeout(r, 200));
      }
    })();

    await waitFor(() => Date.now() >= down + outageMs, { timeoutMs: outageMs + 5_000, intervalMs: 100 });
    const failedWhileDown = await failures(port);
    expect(await cert(dir), 'the old files stay while Vault is unreachable').toEqual(first);
    await proxy.plug();
    const up = Date.now();

    await waitFor(async () => ((await tryCert(dir))?.serial ?? first.serial) !== first.serial, {
      timeoutMs: first.notAfter - Date.now() + 30_000,
      intervalMs: 100,
      what: () => `a renewal after the link came back; agent said:\n${agent.output().slice(-3000)}`,
    });
    sampling = false;
    await sampler;
    const second = await cert(dir);
    const renewed = writtenAt(agent.output(), second.serial);
    const failed = await failures(port);

    // Longer than half the lifetime, and the renewal fell due inside it.
    expect(up - down).toBeGreaterThan((first.notAfter - first.notBefore) / 2);
    expect(failedWhileDown).toBeGreaterThanOrEqual(1);
    // A reader never saw an expired certificate, nor a not-ready agent.
    expect(samples.length).toBeGreaterThan(outageMs / 1_000);
    expect(samples.filter((s) => s.left <= 0)).toEqual([]);
    expect(samples.filter((s) => !s.ready)).toEqual([]);
    expect(renewed, 'the agent logged writing the new certificate').toBeDefined();
    expect(renewed!).toBeLessThan(first.notAfter);
    // Within one step: the retry after the n-th failure waits at most backoffCeiling(n)
    // (full jitter), counted from a failure before `up`, plus the successful attempt's
    // own two requests (login, issue), each bounded by --vault-timeout.
    const bound = backoffCeiling(failed) + 2 * VAULT_TIMEOUT_SECONDS * 1_000;
    expect(renewed! - up).toBeLessThanOrEqual(bound);

    const minLeft = Math.min(...samples.map((s) => s.left));
    console.log(
      `edge outage: lifetime ${(first.notAfter - first.notBefore) / 1000}s (incl. 1s backdating), link down ${((up - down) / 1000).toFixed(1)}s, ` +
        `${failed} failed renewals, renewed ${((renewed! - up) / 1000).toFixed(2)}s after the link came back (bound ${bound / 1000}s = backoffCeiling(${failed}) + 2×--vault-timeout), ` +
        `least time left seen on disk ${(minLeft / 1000).toFixed(1)}s over ${samples.length} samples`,
    );
  }, 240_000);
});
