// How long `init` keeps trying, against the real stack behind the
// fault-injecting proxy (5xx answers are a fault a real Vault cannot be made
// to give on demand): transient failures are retried with backoff for up to
// 60 s, then init exits 1 so the kubelet restarts it; a refusal is not retried.
// The 60 s are a constant of init (no flag sets them), so one test takes them.
// Recovery within the minute, per fault class: transport-faults.test.ts.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saToken, stack, vaultCaPem } from '../ground/context.ts';
import { faultProxy, type FaultProxy } from './fault-proxy.ts';
import { agentArgs, meshPki, runCli, type MeshPki } from './fixture.ts';

let m: MeshPki;
let proxy: FaultProxy;
const out = () => mkdtemp(join(tmpdir(), 'vpa-init-retry-'));
const retries = (stdout: string) => (stdout.match(/"msg":"Vault not available yet; retrying"/g) ?? []).length;

beforeAll(async () => {
  m = await meshPki();
  proxy = await faultProxy({ upstream: stack().vaultAddr, caPem: vaultCaPem(), tls: stack().vaultTls });
});
afterAll(async () => {
  await proxy?.close();
});

describe('init while Vault fails', () => {
  it('gives up after 60 s of 500 answers with exit 1 and the last failure in one line', async () => {
    proxy.mode = 'error500';
    delete proxy.faultsLeft;
    const started = Date.now();
    const r = await runCli(['init', ...agentArgs({ ...m, addr: proxy.addr }, await out())]);
    const took = Date.now() - started;
    proxy.mode = 'pass';
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^vault-pki-agent init: .*500/);
    // It kept trying for the whole minute (a retry at least every backoff step), not once.
    expect(took).toBeGreaterThanOrEqual(60_000);
    expect(retries(r.stdout)).toBeGreaterThanOrEqual(3);
  }, 150_000);

  it('does not retry a login Vault refuses (403: a token for another audience), and exits 1 at once', async () => {
    proxy.mode = 'pass';
    const token = join(await out(), 'token');
    await writeFile(token, await saToken(m.ns, m.sa, { audience: 'not-vault' }));
    const r = await runCli(['init', ...agentArgs({ ...m, addr: proxy.addr }, await out(), [`--token-path=${token}`])]);
    expect(r.code).toBe(1);
    expect(retries(r.stdout)).toBe(0);
    expect(r.stderr).toMatch(/403|permission denied/);
  });
});
