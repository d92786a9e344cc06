// Unit tests of the bootstrap config schema: defaults, strictness, and the
// cross-field checks that must fail before anything touches Vault.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { formatDuration, parseDuration } from '../../src/config/duration.ts';
import { isAgentError } from '../../src/errors.ts';

function problems(input: unknown): string {
  try {
    validateConfig(input);
  } catch (err) {
    expect(isAgentError(err, 'CONFIG')).toBe(true);
    return (err as Error).message;
  }
  throw new Error('config was accepted');
}

describe('bootstrap config', () => {
  it('an empty config yields the classic mesh setup with the identity bound', () => {
    const c = validateConfig({});
    expect(c.root).toMatchObject({ mode: 'internal', mount: 'pki', maxLeaseTtl: 87600 * 3600 });
    expect(c.intermediate).toMatchObject({ mount: 'pki_istio', maxLeaseTtl: 43800 * 3600 });
    expect(c.roles).toEqual([expect.objectContaining({ name: 'istio-workload', ttl: 24 * 3600, maxTtl: 72 * 3600 })]);
    expect(c.kubernetesAuth).toMatchObject({ mount: 'kubernetes', policy: 'vault-pki-agent-workload' });
    expect(c.kubernetesAuth.role).toMatchObject({ name: 'mesh-workload', audience: 'vault', serviceAccounts: ['*'], namespaces: [] });
    expect(c.kubernetesAuth.role.namespaceSelector).toBe('vault-pki-agent.io/enabled=true');
    expect(c.trustDomain).toBe('cluster.local');
    expect(Object.isFrozen(c.roles[0])).toBe(true);
  });

  it('listing namespaces drops the default namespace selector, so the binding is exactly what was written', () => {
    const c = validateConfig({ kubernetesAuth: { role: { namespaces: ['shop'] } } });
    expect(c.kubernetesAuth.role.namespaceSelector).toBe('');
  });

  it('an unknown key anywhere is rejected with its path, together with every other problem', () => {
    const msg = problems({ root: { mout: 'pki' }, roles: [{ name: 'a', ttll: '1h' }], trustDomain: 'Bad Domain' });
    expect(msg).toMatch(/root: unknown key "mout"/);
    expect(msg).toMatch(/roles\.0: unknown key "ttll"/);
    expect(msg).toMatch(/trustDomain/);
    expect(msg).toMatch(/3 problems/);
  });

  it('a role max ttl above the intermediate mount max lease is refused', () => {
    expect(problems({ intermediate: { maxLeaseTtl: '48h', ttl: '48h' }, roles: [{ name: 'r' }] })).toMatch(/roles\.0\.maxTtl: 72h exceeds intermediate\.maxLeaseTtl 48h/);
  });

  it('an intermediate ttl beyond the root ttl is refused', () => {
    expect(problems({ root: { ttl: '8760h' }, intermediate: { ttl: '17520h' } })).toMatch(/intermediate\.ttl: 17520h is beyond the root's ttl 8760h/);
  });

  // A fresh root lives root.ttl: without this check the run wrote the root, the mounts and
  // Linkerd's anchors, then stopped at the issuer with exit 2 ("nothing was touched").
  it('a Linkerd issuer ttl not shorter than the root ttl is refused up front, for a cluster that enables Linkerd too', () => {
    expect(problems({ root: { keyBits: 256 }, linkerd: { enabled: true, ttl: '87600h' } })).toMatch(/linkerd\.ttl: 87600h is not shorter than root\.ttl 87600h/);
    const clusters = [{ name: 'a', kubeconfig: '/a' }, { name: 'b', kubeconfig: '/b', linkerd: true }];
    expect(problems({ root: { ttl: '100h' }, linkerd: { ttl: '200h' }, intermediate: { ttl: '90h', maxLeaseTtl: '90h' }, clusters })).toMatch(/linkerd\.ttl: 200h/);
    expect(() => validateConfig({ root: { ttl: '100h' }, linkerd: { ttl: '200h' }, intermediate: { ttl: '90h', maxLeaseTtl: '90h' } })).not.toThrow();
  });

  it('binding every service account of every namespace is refused', () => {
    expect(problems({ kubernetesAuth: { role: { namespaces: ['*'], serviceAccounts: ['*'] } } })).toMatch(/every pod of the cluster/);
  });

  it('an external root needs a file for the intermediate CSR', () => {
    expect(problems({ root: { mode: 'external' } })).toMatch(/root\.csrFile: required/);
  });

  it('a mount name cannot smuggle a path', () => {
    expect(problems({ intermediate: { mount: '../sys' } })).toMatch(/intermediate\.mount/);
  });

  it('the example config spells out exactly the defaults', () => {
    const example = parse(readFileSync(join(import.meta.dirname, '..', '..', 'examples', 'bootstrap.yaml'), 'utf8'));
    expect(validateConfig(example)).toEqual(validateConfig({}));
  });

  it('durations parse like Vault and print back in the shortest exact form', () => {
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('7d')).toBe(7 * 86400);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1y')).toBeUndefined();
    expect(formatDuration(259200)).toBe('72h');
    expect(formatDuration(90)).toBe('90s');
  });
});
