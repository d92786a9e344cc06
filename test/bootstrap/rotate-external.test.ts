// Root rotation with an offline root (root.mode external) against the real
// Vault: the roots are made and used by openssl only. prepare writes the new
// intermediate's CSR and stops; a chain signed from another key is refused
// with nothing imported; the chain the new root signed from that CSR is
// imported and published next to the old root; switch makes its intermediate
// the default; finish retires the old root's certificate and intermediate.
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type BootstrapConfig } from '../../src/bootstrap/config.ts';
import { isAgentError } from '../../src/errors.ts';
import { waitFor } from '../agent/wait.ts';
import { kubectl, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, planLines, testKube, type Names } from './helpers.ts';
import { fingerprints, offlineRoot as offline, rotate, signInto as sign, status } from './rotate-helpers.ts';

const target = devVault();
const ns = uniqueName('rot-ext');
const label = `vault-pki-agent.io/test=${ns}`;
let config: BootstrapConfig;
let names: Names;
const file = (f: string) => join(names.dir, f);

const offlineRoot = (name: string) => offline(names.dir, name);
const signInto = (name: string, csr: string) => sign(names.dir, name, csr);
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;
const defaultCert = async () => (await call(target, 'GET', `${names.int}/issuer/default/json`)).data.certificate as string;
const bundle = async () => fingerprints((await (await testKube()).readConfigMap(ns, config.trustBundle.configMapName))?.data['root-cert.pem'] ?? '').sort();
const issuerNames = async () => Object.values((await call(target, 'LIST', `${names.int}/issuers`)).data.key_info as Record<string, { issuer_name: string }>).map((i) => i.issuer_name);

beforeAll(async () => {
  await serviceAccount(ns, 'a');
  await kubectl(['label', 'namespace', ns, label]);
  ({ config, names } = await isolatedConfig([ns], (n) => ({
    root: { mode: 'external', csrFile: join(n.dir, 'int.csr'), chainFile: join(n.dir, 'chain.pem') },
    roles: [{ name: 'istio-workload', ttl: '2s', maxTtl: '3s' }],
    rotation: { propagation: '1s', clockMargin: '1s' },
    trustBundle: { enabled: true, namespaceSelector: label },
  })));
  // bootstrap's own two runs: CSR, then the chain root "a" signed
  expect((await bootstrap(target, config)).halted).toMatch(/sign it with the offline root/);
  await offlineRoot('a');
  await signInto('a', 'int.csr');
  expect((await bootstrap(target, config)).halted).toBeUndefined();
}, 60_000);

describe('root rotation with an offline root', () => {
  it('prepare in two runs (CSR out, signed chain in), switch, finish: the old offline root ends retired and out of the bundle', async () => {
    const rootA = await readFile(file('a.pem'), 'utf8');
    const oldCsr = await readFile(file('int.csr'), 'utf8');
    const oldInt = await defaultCert();

    const first = await rotate(target, config, { scope: 'root', phase: 'prepare' });
    expect(first.halted).toMatch(/sign it with the NEW offline root/);
    const csr = await readFile(file('int.csr'), 'utf8');
    expect(csr).toMatch(/BEGIN CERTIFICATE REQUEST/);
    expect(csr).not.toBe(oldCsr);
    expect((await status(target, config))[0]).toMatch(/: signing$/);
    // chain.pem still holds root a's chain: not an answer, so nothing is imported
    const again = await rotate(target, config, { scope: 'root', phase: 'prepare' });
    expect(planLines(again.lines)[1]).toMatch(/^= import .*waiting for the offline root's signature/);

    // the new root signs a CSR of another key: refused, nothing imported
    const rootB = await offlineRoot('b');
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'other.key', '-subj', '/CN=other', '-out', 'other.csr'], names.dir);
    await signInto('b', 'other.csr');
    const before = (await issuerNames()).length;
    const wrong = await rotate(target, config, { scope: 'root', phase: 'prepare' }).catch((e: unknown) => e);
    expect(isAgentError(wrong) && wrong.exitCode).toBe(2);
    expect((wrong as Error).message).toMatch(/its intermediate was not signed from the CSR this rotation wrote .*nothing was imported/);
    expect((await issuerNames()).length).toBe(before);

    await signInto('b', 'int.csr');
    const second = await rotate(target, config, { scope: 'root', phase: 'prepare' });
    expect(planLines(second.lines).map((l) => l.slice(0, 2))).toEqual(['= ', '+ ', '~ ', '~ ']);
    expect((await status(target, config))[0]).toMatch(/: prepared$/);
    expect(await bundle()).toEqual([fp(rootA), fp(rootB)].sort());
    expect(fp(await defaultCert())).toBe(fp(oldInt)); // nothing issues under b yet

    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'switch' }).catch(() => undefined)), { timeoutMs: 15_000, intervalMs: 500, what: () => 'switch admitted' });
    const newInt = await defaultCert();
    expect(fp(newInt)).toBe(fp(await readFile(file('int-b.pem'), 'utf8')));
    expect(new X509Certificate(newInt).verify(new X509Certificate(rootB).publicKey)).toBe(true);

    await waitFor(async () => !!(await rotate(target, config, { scope: 'root', phase: 'finish' }).catch(() => undefined)), { timeoutMs: 15_000, intervalMs: 500, what: () => 'finish admitted' });
    expect(await bundle()).toEqual([fp(rootB)]);
    expect((await status(target, config))[0]).toMatch(/: idle$/);
    const after = await issuerNames();
    expect(after.filter((n) => /^retired-root-\d+/.test(n))).toHaveLength(1);
    expect(after.filter((n) => /^retired-intermediate-\d+/.test(n))).toHaveLength(1);
    expect(after.filter((n) => /^root-\d+$/.test(n))).toHaveLength(1);
  }, 90_000);

  it('refuses prepare at plan time, before the new key is made, when the CSR file cannot be written', async () => {
    const csrFile = file(join('missing', 'int.csr'));
    const moved = validateConfig({ ...structuredClone(config), root: { ...config.root, csrFile } } as never);
    const keys = async () => ((await call(target, 'LIST', `${names.int}/keys`)).data.keys as string[]).length;
    const before = await keys();
    const err = await rotate(target, moved, { scope: 'root', phase: 'prepare' }).catch((e: unknown) => e);
    expect(isAgentError(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toContain(`root.csrFile ${csrFile}: its directory cannot be written (ENOENT)`);
    expect(await keys()).toBe(before);
  });

  it('refuses, with one line and nothing imported or rewritten, a CSR file damaged after signing and a chain file that cannot be read', async () => {
    expect((await rotate(target, config, { scope: 'root', phase: 'prepare' })).halted).toMatch(/sign it with the NEW offline root/);
    await offlineRoot('c');
    await signInto('c', 'int.csr');
    await writeFile(file('int.csr'), 'not a certificate request\n');
    const before = (await issuerNames()).length;
    const err = await rotate(target, config, { scope: 'root', phase: 'prepare' }).catch((e: unknown) => e);
    expect(isAgentError(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toContain(`root.csrFile ${file('int.csr')}: not a PEM certificate request`);
    expect((await issuerNames()).length).toBe(before);

    // a chain file that cannot be read is not "no signature yet": refused before the CSR is written again
    const dirAsChain = validateConfig({ ...structuredClone(config), root: { ...config.root, chainFile: names.dir } } as never);
    const unreadable = await rotate(target, dirAsChain, { scope: 'root', phase: 'prepare' }).catch((e: unknown) => e);
    expect(isAgentError(unreadable, 'CONFIG')).toBe(true);
    expect((unreadable as Error).message).toContain(`root.chainFile ${names.dir}: cannot read it (EISDIR)`);
    expect(await readFile(file('int.csr'), 'utf8')).toBe('not a certificate request\n');
  });
});
