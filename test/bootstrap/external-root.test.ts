// The external-root flow with a root that never enters Vault: an openssl-made
// root signs the CSR bootstrap wrote; the second run imports the chain; the
// leaves then verify against that offline root.
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { isAgentError } from '../../src/errors.ts';
import { saToken, serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, planLines, workloadLogin } from './helpers.ts';

const target = devVault();

describe('bootstrap with an external (offline) root', () => {
  it('writes the intermediate CSR and stops, then imports the offline-signed chain and issues leaves that verify against that root', async () => {
    const ns = uniqueName('bs-ext');
    await serviceAccount(ns, 'app');
    const { config: base, names } = await isolatedConfig([ns], (n) => ({ root: { mode: 'external', csrFile: join(n.dir, 'int.csr') } }));
    const dir = names.dir;

    const phase1 = await bootstrap(target, base);
    expect(phase1.halted).toMatch(/sign it with the offline root/);
    expect(phase1.lines.at(-1)).toMatch(/^stopped: the intermediate CSR is in .*int\.csr/);
    expect(await readFile(join(dir, 'int.csr'), 'utf8')).toMatch(/BEGIN CERTIFICATE REQUEST/);
    // the root mount is never created in external mode
    expect((await call(target, 'GET', 'sys/mounts')).data[`${names.root}/`]).toBeUndefined();

    // The offline root: made and used by openssl only.
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '3650', '-subj', '/CN=offline root',
      '-addext', 'basicConstraints=critical,CA:true', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
    await writeFile(join(dir, 'int.ext'), 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    await openssl(['x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-days', '1825', '-extfile', 'int.ext', '-out', 'int.pem'], dir);
    const chain = (await readFile(join(dir, 'int.pem'), 'utf8')) + (await readFile(join(dir, 'root.pem'), 'utf8'));
    await writeFile(join(dir, 'chain.pem'), chain);

    const withChain = validateConfig({ ...structuredClone(base), root: { ...base.root, chainFile: join(dir, 'chain.pem') } } as never);
    // durations are already seconds in `base`; the schema accepts numbers, so revalidating is exact
    const phase2 = await bootstrap(target, withChain);
    expect(phase2.halted).toBeUndefined();
    expect(planLines(phase2.lines)).toContain(`+ intermediate CA in ${names.int}/ (import the signed chain from ${join(dir, 'chain.pem')})`);

    const token = await workloadLogin(target, names.auth, await saToken(ns, 'app'));
    const res = await call(target, 'POST', `${names.int}/issue/istio-workload`, { uri_sans: `spiffe://cluster.local/ns/${ns}/sa/app`, ttl: '1h', format: 'pem' }, token);
    await writeFile(join(dir, 'leaf.pem'), res.data.certificate);
    await writeFile(join(dir, 'issuing.pem'), res.data.issuing_ca);
    expect(await openssl(['verify', '-x509_strict', '-CAfile', 'root.pem', '-untrusted', 'issuing.pem', 'leaf.pem'], dir)).toMatch(/leaf.pem: OK/);
    expect(new X509Certificate(res.data.ca_chain.at(-1)).fingerprint256).toBe(new X509Certificate(await readFile(join(dir, 'root.pem'), 'utf8')).fingerprint256);

    const phase3 = await bootstrap(target, withChain);
    expect(phase3.writes).toBe(0);
    expect(planLines(phase3.lines).every((l) => l.startsWith('= '))).toBe(true);
  });

  it('refuses a CSR file whose directory does not exist at plan time, before the key is made', async () => {
    const ns = uniqueName('bs-ext');
    const { config, names } = await isolatedConfig([ns], (n) => ({ root: { mode: 'external', csrFile: join(n.dir, 'missing', 'int.csr') } }));
    const err = await bootstrap(target, config).catch((e: unknown) => e);
    expect(isAgentError(err, 'CONFIG')).toBe(true);
    expect((err as Error).message).toContain(`root.csrFile ${join(names.dir, 'missing', 'int.csr')}: its directory cannot be written (ENOENT)`);
    expect((await call(target, 'GET', 'sys/mounts')).data[`${names.int}/`]).toBeUndefined();
  });

  it('refuses a chain file that does not end in the root that signed it, before any write', async () => {
    const ns = uniqueName('bs-ext');
    const { config: base, names } = await isolatedConfig([ns], (n) => ({ root: { mode: 'external', csrFile: join(n.dir, 'int.csr') } }));
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'a.key', '-out', 'a.pem', '-days', '30', '-subj', '/CN=a'], names.dir);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'b.key', '-out', 'b.pem', '-days', '30', '-subj', '/CN=b'], names.dir);
    await writeFile(join(names.dir, 'bad.pem'), (await readFile(join(names.dir, 'a.pem'), 'utf8')) + (await readFile(join(names.dir, 'b.pem'), 'utf8')));
    const cfg = validateConfig({ ...structuredClone(base), root: { ...base.root, chainFile: join(names.dir, 'bad.pem') } } as never);
    const err = await bootstrap(target, cfg).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/root\.chainFile .*bad\.pem: certificate 1 \(CN=a\) is not signed by certificate 2/);
    expect((await call(target, 'GET', 'sys/mounts')).data[`${names.int}/`]).toBeUndefined();
  });
});
