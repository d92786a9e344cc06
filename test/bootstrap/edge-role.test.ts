// roles[].outageBudget against the real dev Vault (docs/edge.md): bootstrap
// writes the sized ttl/max_ttl, its plan names the flags the agents need at
// every run, and a workload asking for the agent's default 24h gets the
// sized lifetime, no more. Names are unique to this file.
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { planForOutage } from '../../src/renewal/outage-budget.ts';
import { saToken, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, planLines, workloadLogin, type Names, type Run } from './helpers.ts';

const target = devVault();
const ns = uniqueName('bs-edge');
const sized = planForOutage(12 * 3600);
let config: BootstrapConfig;
let names: Names;
let first: Run;

beforeAll(async () => {
  await serviceAccount(ns, 'app');
  ({ config, names } = await isolatedConfig([ns], () => ({ roles: [{ name: 'edge', outageBudget: '12h' }] })));
  first = await bootstrap(target, config);
}, 180_000);

describe('an edge role sized by outageBudget: 12h', () => {
  it('is created with ttl and max_ttl from the budget, and the plan names the agents\' --ttl and --grace-ratio', async () => {
    const line = planLines(first.lines).find((l) => l.includes(`${names.int}/roles/edge`));
    expect(line).toMatch(/^\+ /);
    expect(line).toContain(`agents must run --ttl=16h27m --grace-ratio=${sized.graceRatio}`);
    const role = (await call(target, 'GET', `${names.int}/roles/edge`)).data;
    expect([role.ttl, role.max_ttl]).toEqual([sized.ttlSeconds, sized.ttlSeconds]);
  });

  it('prints = on a second run, still with the agents\' flags', async () => {
    const again = await bootstrap(target, config);
    const line = planLines(again.lines).find((l) => l.includes(`${names.int}/roles/edge`));
    expect(line).toMatch(/^= /);
    expect(line).toContain('--ttl=16h27m');
    expect(again.writes).toBe(0);
  });

  it('gives a workload that asks for 24h a certificate of the sized lifetime', async () => {
    const token = await workloadLogin(target, names.auth, await saToken(ns, 'app'));
    const res = await call(target, 'POST', `${names.int}/issue/edge`, { ttl: '24h', uri_sans: `spiffe://cluster.local/ns/${ns}/sa/app`, format: 'pem' }, token);
    const leaf = new X509Certificate(res.data.certificate);
    const role = (await call(target, 'GET', `${names.int}/roles/edge`)).data;
    // notBefore is backdated by the role's not_before_duration
    expect((Date.parse(leaf.validTo) - Date.parse(leaf.validFrom)) / 1000 - role.not_before_duration).toBeCloseTo(sized.ttlSeconds, -1);
  });
});
