// Bootstrap against a Vault of its own (file storage, so it can be stopped
// and restarted): the second run writes nothing, as Vault's own file audit
// device counts it, and a run interrupted by Vault going away completes on
// the next run without losing or orphaning anything.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAgentError } from '../../src/errors.ts';
import type { VaultClient } from '../../src/vault/client.ts';
import { saToken, serviceAccount, stack, uniqueName, vaultCaPem } from '../ground/context.ts';
import { FileVault } from '../ground/stack/vault.ts';
import { bootstrap, call, isolatedConfig, planLines, workloadLogin, type Target } from './helpers.ts';

let fv: FileVault;
let target: Target;
let auditFile: string;
const ns = uniqueName('bs-fv');

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-filevault-'));
  fv = await new FileVault({ dir, bin: stack().vaultBin, caPem: vaultCaPem(), tls: stack().vaultTls }).start();
  target = { addr: fv.addr, token: fv.token, caPem: fv.caPem };
  auditFile = join(dir, 'audit.log');
  await call(target, 'POST', 'sys/audit/file', { type: 'file', options: { file_path: auditFile } });
  await serviceAccount(ns, 'app');
});

afterAll(async () => {
  await fv?.stop();
});

/** Requests Vault audited after `from` lines, except reads and lists. */
async function auditedWrites(from: number): Promise<string[]> {
  const lines = (await readFile(auditFile, 'utf8')).trim().split('\n').slice(from);
  return lines
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'request' && !['read', 'list'].includes(e.request.operation))
    .map((e) => `${e.request.operation} ${e.request.path}`);
}
const auditLength = async () => (await readFile(auditFile, 'utf8')).trim().split('\n').length;

describe('bootstrap re-runs on a file-storage Vault', () => {
  it('a second run on the same Vault makes zero writes (counted by the audit device) and prints only = lines', async () => {
    const { config } = await isolatedConfig([ns]);
    const first = await bootstrap(target, config);
    expect(first.writes).toBeGreaterThan(10);
    expect(await auditedWrites(0)).toContain(`update ${config.intermediate.mount}/intermediate/set-signed`);

    const before = await auditLength();
    const second = await bootstrap(target, config);
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
        if (req.op === 'intermediate csr') await fv.stop();
        return res;
      },
    });
    const err = await bootstrap(target, config, { wrap: stopAfterCsr }).catch((e: unknown) => e);
    expect(isAgentError(err, 'VAULT_UNREACHABLE')).toBe(true);

    await fv.start();
    const rootBefore = (await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate;
    const keysBefore = (await call(target, 'LIST', `${names.int}/keys`)).data.keys as string[];
    expect(keysBefore).toHaveLength(1);

    const resumed = await bootstrap(target, config);
    expect(planLines(resumed.lines).some((l) => l.startsWith(`+ intermediate CA in ${names.int}/`))).toBe(true);
    expect((await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate).toBe(rootBefore);
    const issuers = await call(target, 'GET', `${names.int}/issuer/default`);
    expect(issuers.data.key_id).toBe(keysBefore[0]);
    expect((await call(target, 'LIST', `${names.int}/keys`)).data.keys).toEqual(keysBefore);

    const token = await workloadLogin(target, names.auth, await saToken(ns, 'app'));
    const leaf = await call(target, 'POST', `${names.int}/issue/istio-workload`, { uri_sans: `spiffe://cluster.local/ns/${ns}/sa/app`, ttl: '1h' }, token);
    expect(leaf.data.ca_chain).toHaveLength(2);
    const third = await bootstrap(target, config);
    expect(third.writes).toBe(0);
  });
});
