// The exit-2 contract (DESIGN: "2 usage or configuration error, before any
// side effect"): every bad input is found before the first connection to
// Vault, reported in one line with the others, and an http:// Vault address
// off loopback is refused unless the operator opts in. A connection recorder
// stands in for Vault, so "no request was sent" is observed, not assumed.

import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectionRecorder, fakeServiceAccountJwt, ownNonLoopbackIPv4, type ConnectionRecorder } from './fakes.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

interface Exit {
  code: number | null;
  stderr: string;
}

/** Runs the CLI; a process still running after `stopAfterMs` (or once `until()` holds) is killed and reports code null. */
function cli(args: string[], o: { stopAfterMs?: number; until?: () => boolean; env?: Record<string, string> } = {}): Promise<Exit> {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^VAULT_/.test(k)) delete env[k];
  Object.assign(env, o.env);
  const child = spawn(process.execPath, [MAIN, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const poll = setInterval(() => o.until?.() && child.kill('SIGKILL'), 20);
  const stop = setTimeout(() => child.kill('SIGKILL'), o.stopAfterMs ?? 15_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearInterval(poll);
      clearTimeout(stop);
      resolve({ code, stderr });
    }),
  );
}

let vault: ConnectionRecorder;
let dir: string;
let tokenPath: string;
beforeAll(async () => {
  vault = await connectionRecorder();
  dir = await mkdtemp(join(tmpdir(), 'vpa-exit2-'));
  tokenPath = join(dir, 'token');
  await writeFile(tokenPath, fakeServiceAccountJwt());
});
afterAll(() => vault.close());

const agent = (verb: 'init' | 'run', addr: string, extra: string[]) => [verb, `--vault-addr=${addr}`, `--token-path=${tokenPath}`, `--out-dir=${join(dir, 'out')}`, ...extra];
const loopback = () => `http://127.0.0.1:${vault.port}`;

function expectOneLineExit2(r: Exit, ...named: RegExp[]) {
  expect(r.code).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  for (const n of named) expect(r.stderr).toMatch(n);
}

describe('init and run validate everything before the first Vault connection', () => {
  for (const verb of ['init', 'run'] as const) {
    it(`${verb} exits 2 on --listen=garbage instead of binding the default port, and never connects to Vault`, async () => {
      const before = vault.connections;
      const r = await cli(agent(verb, loopback(), ['--listen=garbage']));
      expectOneLineExit2(r, /--listen garbage: not a listen address/);
      expect(vault.connections).toBe(before);
    });
  }

  it('reports a bad --layout, a port out of range in --listen and a bad ttl together, in one line, without connecting', async () => {
    const before = vault.connections;
    const r = await cli(agent('run', loopback(), ['--layout=/nonexistent-layout', '--listen=127.0.0.1:99999', '--ttl=forever']));
    // The layout folder is read after the values are checked: the values come first, all of them at once.
    expectOneLineExit2(r, /--listen 127\.0\.0\.1:99999: not a listen address/, /--ttl forever/);
    expect(vault.connections).toBe(before);
  });

  it('exits 2 on a --vault-cacert whose certificate does not parse, before connecting', async () => {
    const ca = join(dir, 'broken-ca.pem');
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n');
    const before = vault.connections;
    const r = await cli(agent('init', `https://127.0.0.1:${vault.port}`, [`--vault-cacert=${ca}`]));
    expectOneLineExit2(r, /--vault-cacert .*broken-ca\.pem: a certificate in it does not parse/);
    expect(vault.connections).toBe(before);
  });

  for (const bad of ['https://x:99999', 'http://[::1']) {
    it(`rejects the Vault address ${bad} together with the other problems, in one line`, async () => {
      const r = await cli(agent('init', bad, ['--ttl=forever']));
      expectOneLineExit2(r, new RegExp(`--vault-addr ${bad.replace(/[[\]/.:]/g, '\\$&')}: not a valid URL`), /--ttl forever/);
    });
  }
});

describe('an http:// Vault address off loopback is refused unless --allow-insecure-http is given', () => {
  it('init exits 2 naming the flag and sends nothing; with the flag it connects; on loopback it connects without it', async () => {
    const offLoopback = `http://${ownNonLoopbackIPv4()}:${vault.port}`;
    const before = vault.connections;
    const refused = await cli(agent('init', offLoopback, []));
    expectOneLineExit2(refused, /--vault-addr http:\/\/\S+: plain http:\/\/ .*--allow-insecure-http/);
    expect(vault.connections).toBe(before);

    await cli(agent('init', offLoopback, ['--allow-insecure-http']), { until: () => vault.connections > before });
    expect(vault.connections).toBeGreaterThan(before);
    const after = vault.connections;
    await cli(agent('init', loopback(), []), { until: () => vault.connections > after });
    expect(vault.connections).toBeGreaterThan(after);
  });

  it('bootstrap exits 2 naming the flag and sends nothing, and connects with the flag', async () => {
    const offLoopback = `http://${ownNonLoopbackIPv4()}:${vault.port}`;
    const before = vault.connections;
    const env = { VAULT_TOKEN: 'not-a-real-token' };
    // a config whose login could work (the defaults' namespace selector needs a reviewer: refused before any connection)
    const config = join(await mkdtemp(join(tmpdir(), 'vpa-exit2-')), 'bootstrap.yaml');
    await writeFile(config, 'kubernetesAuth:\n  vaultInCluster: true\n');
    const refused = await cli(['bootstrap', `--vault-addr=${offLoopback}`, '--dry-run', `--config=${config}`], { env });
    expectOneLineExit2(refused, /Vault address http:\/\/\S+: plain http:\/\/ .*--allow-insecure-http/);
    expect(vault.connections).toBe(before);
    await cli(['bootstrap', `--vault-addr=${offLoopback}`, '--dry-run', '--allow-insecure-http', `--config=${config}`], { env, until: () => vault.connections > before });
    expect(vault.connections).toBeGreaterThan(before);
  });

  it('webhook exits 2 naming the flag', async () => {
    const r = await cli(['webhook', '--image=vpa:test', `--vault-addr=http://${ownNonLoopbackIPv4()}:8200`, '--tls-cert=/nonexistent.crt', '--tls-key=/nonexistent.key', '--native-sidecar=true']);
    expectOneLineExit2(r, /--vault-addr http:\/\/\S+: plain http:\/\/ .*--allow-insecure-http/);
  });
});
