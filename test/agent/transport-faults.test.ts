// How `init` treats each kind of transport failure, driven through the fault
// proxy in front of the real Vault: resets (mid-request and during the TLS
// handshake), 429 and 5xx are transient and retried until the certificate is
// obtained; a certificate Vault's CA did not sign is a trust error, not retried.

import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueServing } from '../../src/webhook/tls.ts';
import { stack, vaultCaPem } from '../ground/context.ts';
import { faultProxy, type FaultMode, type FaultProxy } from './fault-proxy.ts';
import { agentArgs, meshPki, runCli, type MeshPki } from './fixture.ts';

let m: MeshPki;
let proxy: FaultProxy;
beforeAll(async () => {
  m = await meshPki();
  proxy = await faultProxy({ upstream: stack().vaultAddr, caPem: vaultCaPem(), tls: stack().vaultTls });
});
afterAll(() => proxy?.close());

const retryLines = (out: string) => out.split('\n').filter((l) => l.includes('"msg":"Vault not available yet; retrying"'));

describe('init retries transient transport failures', () => {
  const transient: [FaultMode, string, RegExp][] = [
    ['reset', 'a connection reset after the request was sent', /ECONNRESET/],
    ['handshake-reset', 'a connection reset during the TLS handshake', /ECONNRESET/],
    ['error429', "Vault's rate limit (429)", /answered 429/],
    ['error500', 'a 500 answer', /answered 500/],
  ];
  for (const [mode, what, logged] of transient) {
    it(`retries ${what} and then obtains the certificate (exit 0)`, async () => {
      proxy.mode = mode;
      proxy.faultsLeft = 2;
      const out = await mkdtemp(join(tmpdir(), 'vpa-transport-'));
      // No root mount: its reads are allowed to fail (the issuing chain's root then
      // decides, src/vault/roots.ts) and would take the faults meant for login and issue.
      const r = await runCli(['init', ...agentArgs({ ...m, addr: proxy.addr }, out, ['--root-mount='])]);
      expect(proxy.faultsLeft, 'both injected faults were hit').toBeUndefined();
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const retries = retryLines(r.stdout + r.stderr);
      expect(retries.length).toBeGreaterThanOrEqual(1);
      for (const l of retries) expect(l).toMatch(logged);
    });
  }
});

describe('init does not retry a TLS trust failure', () => {
  let untrusted: https.Server;
  let addr: string;
  let connections = 0;
  beforeAll(async () => {
    // A server whose certificate chains to a CA the agent was not given: what a wrong --vault-cacert looks like.
    const ca = await createCa({ commonName: 'not the Vault CA', lifetimeMs: 3_600_000 });
    const serving = await issueServing(ca, { hosts: ['127.0.0.1'], lifetimeMs: 3_600_000 });
    untrusted = https.createServer({ cert: serving.certPem, key: serving.keyPem }, (_req, res) => res.writeHead(500).end());
    untrusted.on('connection', () => connections++);
    await new Promise<void>((r) => untrusted.listen(0, '127.0.0.1', () => r()));
    addr = `https://127.0.0.1:${(untrusted.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => untrusted.close(() => r())));

  it('exits 1 on a certificate it cannot verify, naming the verification code and --vault-cacert, without a retry', async () => {
    const out = await mkdtemp(join(tmpdir(), 'vpa-transport-'));
    const r = await runCli(['init', ...agentArgs({ ...m, addr }, out)]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toMatch(/(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY).*--vault-cacert/);
    expect(retryLines(r.stdout + r.stderr)).toHaveLength(0);
    expect(connections).toBeGreaterThan(0);
  });
});
