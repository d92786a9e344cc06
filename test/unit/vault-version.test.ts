// Which Vault versions bootstrap names as affected by hashicorp/vault#29928
// (not_after past the role's max_ttl): every release before the fixed patch
// of its line, per the closing comment (1.19.19, 1.20.13, 1.21.8,
// 2.0.3), and every line older than 1.19.
import { describe, expect, it } from 'vitest';
import { notAfterFlaw, versionNote } from '../../src/bootstrap/vault-version.ts';

describe('the not_after flaw by Vault version', () => {
  it.each([
    ['1.21.0', 'affected'],
    ['1.21.7', 'affected'],
    ['1.21.8', 'fixed'],
    ['1.21.10', 'fixed'],
    ['1.20.12', 'affected'],
    ['1.20.13', 'fixed'],
    ['1.19.0', 'affected'],
    ['1.19.18', 'affected'],
    ['1.19.19', 'fixed'],
    ['1.18.20', 'affected'],
    ['1.14.0', 'affected'],
    ['0.11.2', 'affected'],
    ['2.0.2', 'affected'],
    ['2.0.3', 'fixed'],
    ['2.1.0', 'fixed'],
    ['1.19.19+ent', 'fixed'],
    ['1.21.7+ent.hsm', 'affected'],
    ['1.20.2-rc1', 'affected'],
    ['v1.21.8', 'fixed'],
    ['dev', 'unknown'],
    ['1.21', 'unknown'],
    ['', 'unknown'],
  ])('%j is %s', (version, verdict) => {
    expect(notAfterFlaw(version)).toBe(verdict);
  });

  it('the plan warns on an affected version only, and names a version it cannot read instead of passing it as fixed', () => {
    expect(versionNote('1.21.0')).toMatch(/^WARNING .*1\.21\.0/);
    expect(versionNote('1.21.8')).not.toMatch(/WARNING/);
    expect(versionNote(undefined)).toMatch(/unknown.*29928/);
    expect(versionNote('\u001b[2Jweird')).not.toContain('\u001b');
  });
});
