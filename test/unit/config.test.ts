import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../src/config/agent-config.ts';

const base = { 'vault-addr': 'https://vault:8200', 'token-path': '/t' };

describe('agent configuration', () => {
  it('fills the defaults DESIGN.md names', async () => {
    const c = await loadAgentConfig(base, {});
    expect(c).toMatchObject({
      auth: { mount: 'kubernetes', role: 'mesh-workload' },
      pki: { mount: 'pki_istio', role: 'istio-workload', mode: 'issue' },
      identity: { trustDomain: 'cluster.local', dnsSans: [] },
      ttlSeconds: 86400,
      renewal: { graceRatio: 0.5, jitter: 0.01 },
      output: { layout: 'istio', outDir: '/var/run/secrets/workload-spiffe-credentials' },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reports every problem at once', async () => {
    const err = await loadAgentConfig({ 'vault-addr': 'vault:8200', ttl: 'x', 'grace-ratio': '0', mode: 'steal', 'token-path': '/t' }, {}).catch((e) => e);
    expect(err.code).toBe('CONFIG');
    expect(err.exitCode).toBe(2);
    for (const part of ['--vault-addr vault:8200', '--ttl x', '--grace-ratio 0', '--mode steal']) expect(err.message).toContain(part);
  });

  it('takes flags over environment over the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-cfg-'));
    await writeFile(join(dir, 'c.yaml'), 'ttl: 2h\njitter: 0.2\npki-role: from-file\n');
    const c = await loadAgentConfig({ ...base, config: join(dir, 'c.yaml'), ttl: '3h' }, { VAULT_PKI_AGENT_JITTER: '0.3' });
    expect(c.ttlSeconds).toBe(3 * 3600);
    expect(c.renewal.jitter).toBe(0.3);
    expect(c.pki.role).toBe('from-file');
  });

  it('rejects unknown keys in the config file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vpa-cfg-'));
    await writeFile(join(dir, 'c.yaml'), 'ttl: 2h\nttll: 3h\n');
    await expect(loadAgentConfig({ ...base, config: join(dir, 'c.yaml') }, {})).rejects.toThrow(/unknown key "ttll"/);
  });

  it('turns TLS verification off only for VAULT_SKIP_VERIFY=true or 1', async () => {
    for (const [v, skip] of [['true', true], ['1', true], ['false', false], ['0', false], ['yes-please', false]] as const) {
      expect((await loadAgentConfig(base, { VAULT_SKIP_VERIFY: v })).vault.skipVerify).toBe(skip);
    }
  });

  it('requires a target for the rotate signal', async () => {
    await expect(loadAgentConfig({ ...base, 'on-rotate-signal': 'HUP' }, {})).rejects.toThrow(/--signal-pid-file or --signal-process/);
  });
});
