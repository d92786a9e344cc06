// A second read of the one config layer (src/config): what a --config file
// holds never reaches a terminal through the YAML parser (neither its error's
// first line nor its warnings), a list where one value belongs is told so,
// and a broken CA file is reported together with the other problems.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadAgentConfig } from '../../src/config/agent-config.ts';
import { loadWebhookConfig } from '../../src/config/webhook-config.ts';

let dir: string;
const file = (name: string) => join(dir, name);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vpa-cfg-review-'));
  // YAML whose parser messages would carry file text: an alias and a block scalar header (errors),
  // a tag and a directive (warnings; the file is otherwise a valid config).
  await writeFile(file('alias.yaml'), 'ttl: *hunter2SeCrEt\n');
  await writeFile(file('header.yaml'), 'ttl: |-SeCrEtHeAdEr\n  1h\n');
  await writeFile(file('tag.yaml'), 'vault-addr: !SeCrEtTaG https://vault:8200\n');
  await writeFile(file('directive.yaml'), '%SeCrEtDiReCtIvE\n---\nvault-addr: https://vault:8200\n');
  await writeFile(file('lists.yaml'), 'ttl: [1h, 2h]\nmode: {a: 1}\nlisten: [":1"]\n');
  await writeFile(file('not-a-ca.pem'), 'no certificate here\n');
});
afterEach(() => vi.restoreAllMocks());

const agentFlags = (config: string) => ({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', config });

describe('a --config file is never quoted by the YAML parser', () => {
  const invalid = async (name: string) => [await loadAgentConfig(agentFlags(file(name)), {}).catch((e) => e), await loadWebhookConfig({ config: file(name) }, {}).catch((e) => e)];

  it('a syntax error is reported by its code and position, without the text of the offending token', async () => {
    for (const err of await invalid('header.yaml')) {
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(`--config ${file('header.yaml')}: not valid YAML (`);
      expect(err.message).toContain('at line 1, column');
      expect(err.message).not.toContain('SeCrEtHeAdEr');
    }
  });

  it('an alias with no anchor is reported without the alias name', async () => {
    for (const err of await invalid('alias.yaml')) {
      expect(err.exitCode).toBe(2);
      expect(err.message).toContain(`--config ${file('alias.yaml')}: not valid YAML (`);
      expect(err.message).not.toContain('hunter2SeCrEt');
    }
  });

  it('an unknown tag or directive raises no process warning (which would print the line holding it)', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    for (const name of ['tag.yaml', 'directive.yaml']) {
      const agent = await loadAgentConfig({ 'token-path': '/t', config: file(name) }, {});
      expect(agent.vault.address).toBe('https://vault:8200');
      await loadWebhookConfig({ config: file(name) }, {}).catch(() => undefined);
    }
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([]);
  });
});

describe('problem lines of init/run', () => {
  it('a list or map where one value belongs says it expects a single value, for every kind of setting', async () => {
    const err = await loadAgentConfig(agentFlags(file('lists.yaml')), {}).catch((e) => e);
    expect(err.exitCode).toBe(2);
    for (const flag of ['--ttl', '--mode', '--listen']) expect(err.message).toContain(`${flag}: expected a single value`);
    expect(err.message).not.toMatch(/Invalid input/);
  });

  it('refuses a --vault-timeout too long for a timer, which would end every Vault request after 1 ms', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', 'vault-timeout': '30d' }, {}).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^--vault-timeout 30d: /);
    const ok = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', 'vault-timeout': '1h' }, {});
    expect(ok.vault.timeoutMs).toBe(3_600_000);
  });

  it('refuses http:// to a name under .localhost without --allow-insecure-http: only localhost itself and loopback IPs are on the pod', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'http://vault.localhost:8200', 'token-path': '/t' }, {}).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toMatch(/^--vault-addr http:\/\/vault\.localhost:8200: plain http:\/\//);
    for (const address of ['http://localhost:8200', 'http://127.0.0.2:8200', 'http://[::1]:8200']) {
      expect((await loadAgentConfig({ 'vault-addr': address, 'token-path': '/t' }, {})).vault.address).toBe(address);
    }
  });

  it('a --vault-cacert that holds no certificate is reported together with a bad value of another flag', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'https://vault:8200', 'token-path': '/t', 'vault-cacert': file('not-a-ca.pem'), ttl: 'soon' }, {}).catch((e) => e);
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('--ttl soon:');
    expect(err.message).toContain(`--vault-cacert ${file('not-a-ca.pem')}: holds no PEM certificate`);
  });
});
