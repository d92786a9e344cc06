import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { edgeNote } from '../../src/bootstrap/edge-role.ts';
import { roleBody } from '../../src/bootstrap/steps/role.ts';
import { isAgentError } from '../../src/errors.ts';

function problems(input: unknown): string {
  try {
    validateConfig(input);
  } catch (err) {
    if (isAgentError(err, 'CONFIG')) return err.message;
    throw err;
  }
  return '';
}

describe('roles[].outageBudget', () => {
  it('sizes the role for a 12h outage: ttl and max_ttl 16h27m (59220 s), written so to Vault', () => {
    const c = validateConfig({ roles: [{ name: 'edge', outageBudget: '12h' }] });
    const role = c.roles[0]!;
    expect([role.ttl, role.maxTtl, role.edge?.graceRatio]).toEqual([59_220, 59_220, 0.75]);
    expect(roleBody(c, role, 'acc')).toMatchObject({ ttl: 59_220, max_ttl: 59_220 });
  });

  it('tells the operator the flags its agents need, in the plan', () => {
    const role = validateConfig({ roles: [{ name: 'edge', outageBudget: '12h' }] }).roles[0]!;
    expect(edgeNote(role.edge!)).toBe(
      'outage budget 12h: ttl 16h27m; agents must run --ttl=16h27m --grace-ratio=0.75 (chart: injector.outageBudget=12h); rides out 12h12s from any start',
    );
  });

  it('keeps the 24h / 72h defaults, and no edge plan, for a role without a budget', () => {
    const [plain, explicit] = validateConfig({ roles: [{ name: 'a' }, { name: 'b', ttl: '1h', maxTtl: '2h' }] }).roles;
    expect([plain!.ttl, plain!.maxTtl, plain!.edge]).toEqual([86_400, 259_200, undefined]);
    expect([explicit!.ttl, explicit!.maxTtl]).toEqual([3_600, 7_200]);
  });

  it('refuses a budget next to an explicit ttl or maxTtl, naming the role entry', () => {
    expect(problems({ roles: [{ name: 'edge', outageBudget: '12h', ttl: '24h' }] })).toMatch(/roles\.0\.outageBudget: sets ttl and maxTtl itself/);
    expect(problems({ roles: [{ name: 'edge', outageBudget: '12h', maxTtl: '48h' }] })).toMatch(/roles\.0\.outageBudget: sets ttl and maxTtl itself/);
  });

  it('refuses a budget that is not a duration, or out of range', () => {
    expect(problems({ roles: [{ name: 'edge', outageBudget: 'half a day' }] })).toMatch(/roles\.0\.outageBudget: "half a day" is not a positive duration/);
    expect(problems({ roles: [{ name: 'edge', outageBudget: '30s' }] })).toMatch(/roles\.0\.outageBudget: 30s must be from 1m to 8760h/);
  });

  it('checks the sized ttl against the intermediate like any other ttl', () => {
    expect(problems({ intermediate: { maxLeaseTtl: '16h', ttl: '16h' }, roles: [{ name: 'edge', outageBudget: '12h' }] })).toMatch(/roles\.0\.maxTtl: 987m exceeds intermediate\.maxLeaseTtl 16h/);
  });
});
