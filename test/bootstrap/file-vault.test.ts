// Bootstrap against a Vault of its own (file storage, so it can be stopped
// and restarted): the second run writes nothing, as Vault's own file audit
// device counts it, and a run interrupted by Vault going away completes on
// the next run without losing or orphaning anything.
import { describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.ts';
import type { VaultClient } from '../../src/vault/client.ts';
import { saToken, serviceAccount, uniqueName } from '../ground/context.ts';
import { auditedWrites as audited, auditLength as length, useFileVault } from './file-vault-fixture.ts';
import { bootstrap, call, isolatedConfig, planLines, workloadLogin } from './helpers.ts';

const ns = uniqueName('bs-fv');
const f = useFileVault(() => serviceAccount(ns, 'app'));
const auditedWrites = (from: number) => audited(f, from);
const auditLength = () => length(f);

describe('bootstrap re-runs on a file-storage Vault', () => {
  it('a second run on the same Vault makes zero writes (counted by the audit device) and prints only = lines', async () => {
    const { config } = await isolatedConfig([ns]);
    const first = await bootstrap(f.target, config);
    expect(first.writes).toBeGreaterThan(10);
    expect(await auditedWrites(0)).toContain(`update ${config.intermediate.mount}/intermediate/set-signed`);

    const before = await auditLength();
    const second = await bootstrap(f.target, config);
    expect(await auditedWrites(before)).toEqual([]);
    expect(second.writes).toBe(0);
    const plan = planLines(second.lines);
    expect(plan.length).toBe(first.plan.length);
    expect(plan.every((l) => l.startsWith('= '))).toBe(true);
    expect(second.lines.filter((l) => /^[+~]/.test(l))).toEqual([]);
  });

  it('an apply interrupted by Vault stopping mid-step completes on the next run, re-using the pending key', async () => {
    const { config, names } = await isolatedConfig([ns]);
    // Stop Vault right after it created the intermediate's key and CSR, before the root signs it.
    const stopAfterCsr = (http: VaultClient): VaultClient => ({
      address: http.address,
      async request(req) {
        const res = await http.request(req);
        if (req.op === 'intermediate csr') await f.fv.stop();
        return res;
      },
    });
    const err = await bootstrap(f.target, config, { wrap: stopAfterCsr }).catch((e: unknown) => e);
    expect(isAgentError(err, 'VAULT_UNREACHABLE')).toBe(true);

    await f.fv.start();
    const rootBefore = (await call(f.target, 'GET', `${names.root}/issuer/default/json`)).data.certificate;
    const keysBefore = (await call(f.target, 'LIST', `${names.int}/keys`)).data.keys as string[];
    expect(keysBefore).toHaveLength(1);

    const resumed = await bootstrap(f.target, config);
    expect(planLines(resumed.lines).some((l) => l.startsWith(`+ intermediate CA in ${names.int}/`))).toBe(true);
    expect((await call(f.target, 'GET', `${names.root}/issuer/default/json`)).data.certificate).toBe(rootBefore);
    const issuers = await call(f.target, 'GET', `${names.int}/issuer/default`);
    expect(issuers.data.key_id).toBe(keysBefore[0]);
    expect((await call(f.target, 'LIST', `${names.int}/keys`)).data.keys).toEqual(keysBefore);

    const token = await workloadLogin(f.target, names.auth, await saToken(ns, 'app'));
    const leaf = await call(f.target, 'POST', `${names.int}/issue/istio-workload`, { uri_sans: `spiffe://cluster.local/ns/${ns}/sa/app`, ttl: '1h' }, token);
    expect(leaf.data.ca_chain).toHaveLength(2);
    const third = await bootstrap(f.target, config);
    expect(third.writes).toBe(0);
  });
});
