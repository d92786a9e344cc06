// Linkerd's external identity issuer from the same Vault, checked the way an
// operator would before `helm install --set identity.externalCA=true`: openssl
// on the Secret and ConfigMap bootstrap wrote into a real kube-apiserver, a
// no-op re-run, and a re-run against a nearly expired issuer. The config comes
// from examples/linkerd.yaml through the real loader; names are unique per run.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile, validateConfig, type BootstrapConfig } from '../../src/bootstrap/config.ts';
import { kubectl, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, planLines, testKube, type Names, type Run } from './helpers.ts';

const target = devVault();
const EXAMPLE = fileURLToPath(new URL('../../examples/linkerd.yaml', import.meta.url));
const ns = uniqueName('l5d');
const issuerTitle = (n: string) => `Linkerd identity issuer Secret ${n}/linkerd-identity-issuer`;
const rootsTitle = (n: string) => `Linkerd trust anchors ConfigMap ${n}/linkerd-identity-trust-roots`;
let config: BootstrapConfig;
let names: Names;
let first: Run;

/** The same Vault names as `config`, Linkerd pointed at namespace `to` (durations are seconds already). */
const elsewhere = (to: string) => validateConfig({ ...structuredClone(config), linkerd: { ...config.linkerd, namespace: to } } as never);

async function outputs(namespace = ns): Promise<{ crt: string; key: string; ca: string; bundle: string; type: string }> {
  const kube = await testKube();
  const s = await kube.readSecret(namespace, 'linkerd-identity-issuer');
  const cm = await kube.readConfigMap(namespace, 'linkerd-identity-trust-roots');
  const out = { crt: s?.data['tls.crt'] ?? '', key: s?.data['tls.key'] ?? '', ca: s?.data['ca.crt'] ?? '', bundle: cm?.data['ca-bundle.crt'] ?? '', type: s?.type ?? '' };
  await writeFile(join(names.dir, 'tls.crt'), out.crt);
  await writeFile(join(names.dir, 'tls.key'), out.key, { mode: 0o600 });
  await writeFile(join(names.dir, 'ca-bundle.crt'), out.bundle);
  return out;
}

const dates = async (file: string) => {
  const text = await openssl(['x509', '-in', file, '-noout', '-startdate', '-enddate'], names.dir);
  const at = (k: string) => new Date(new RegExp(`${k}=(.*)`).exec(text)![1]!).getTime();
  return { from: at('notBefore'), to: at('notAfter') };
};

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]);
  const example = await loadConfigFile(EXAMPLE);
  ({ config, names } = await isolatedConfig([ns], (n) => ({
    root: { mount: n.root, keyType: example.root.keyType, keyBits: example.root.keyBits },
    linkerd: { ...example.linkerd, namespace: ns },
  })));
  first = await bootstrap(target, config);
});

describe('bootstrap with linkerd.enabled (examples/linkerd.yaml)', () => {
  it('the example loads through the strict config loader with Linkerd on and a P-256 root', async () => {
    const example = await loadConfigFile(EXAMPLE);
    expect(example.linkerd).toMatchObject({ enabled: true, namespace: 'linkerd' });
    expect(example.root).toMatchObject({ keyType: 'ec', keyBits: 256 });
  });

  it('plans the anchors ConfigMap and the issuer Secret as creations, applies both, and prints no key', () => {
    const plan = planLines(first.lines);
    expect(plan.filter((l) => l.includes('Linkerd')).map((l) => l.split(' (')[0])).toEqual([`+ ${rootsTitle(ns)}`, `+ ${issuerTitle(ns)}`]);
    expect(first.applied).toEqual(expect.arrayContaining([rootsTitle(ns), issuerTitle(ns)]));
    expect(first.lines.join('\n')).not.toMatch(/PRIVATE KEY/);
  });

  it('openssl: the issuer chains to the anchor, is CA:TRUE pathlen:0, P-256 signed with SHA-256, named identity.<ns>.cluster.local', async () => {
    const o = await outputs();
    expect(o.type).toBe('kubernetes.io/tls');
    expect(await openssl(['verify', '-x509_strict', '-CAfile', 'ca-bundle.crt', 'tls.crt'], names.dir)).toMatch(/tls\.crt: OK/);
    const text = await openssl(['x509', '-in', 'tls.crt', '-noout', '-text'], names.dir);
    expect(text).toMatch(/CA:TRUE, pathlen:0/);
    expect(text).toMatch(/ASN1 OID: prime256v1/);
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(text).toMatch(/Certificate Sign, CRL Sign/);
    expect(text).toMatch(new RegExp(`Subject: CN ?= ?identity\\.${ns}\\.cluster\\.local\\n`));
    expect(text).toMatch(new RegExp(`DNS:identity\\.${ns}\\.cluster\\.local`));
    // Linkerd refuses anchors that are not P-256 signed with SHA-256 too
    const anchor = await openssl(['x509', '-in', 'ca-bundle.crt', '-noout', '-text'], names.dir);
    expect(anchor).toMatch(/ASN1 OID: prime256v1/);
    expect(anchor).toMatch(/Signature Algorithm: ecdsa-with-SHA256/);
    expect(anchor).toMatch(/CA:TRUE/);
  });

  it('the issuer lies inside the anchor validity, the key matches, and ca.crt, ca-bundle.crt and the root mount agree', async () => {
    const o = await outputs();
    const issuer = await dates('tls.crt');
    const anchor = await dates('ca-bundle.crt');
    expect(issuer.from).toBeGreaterThanOrEqual(anchor.from);
    expect(issuer.to).toBeLessThanOrEqual(anchor.to);
    // Linkerd reads EC keys only in SEC1 form
    expect(o.key).toMatch(/^-----BEGIN EC PRIVATE KEY-----\n/);
    const fromKey = await openssl(['pkey', '-in', 'tls.key', '-pubout'], names.dir);
    const fromCert = await openssl(['x509', '-in', 'tls.crt', '-noout', '-pubkey'], names.dir);
    expect(fromKey).toMatch(/BEGIN PUBLIC KEY/);
    expect(fromKey).toBe(fromCert);
    const root = (await call(target, 'GET', `${names.root}/issuer/default/json`)).data.certificate as string;
    expect(o.bundle.trim()).toBe(root.trim());
    expect(o.ca).toBe(o.bundle);
  });

  it('a second run prints = for every step and writes nothing', async () => {
    const before = (await outputs()).crt;
    const again = await bootstrap(target, config);
    const plan = planLines(again.lines);
    expect(plan.filter((l) => l.includes('Linkerd')).map((l) => l.slice(0, 2))).toEqual(['= ', '= ']);
    expect(plan.every((l) => l.startsWith('= '))).toBe(true);
    expect(again.writes).toBe(0);
    expect((await outputs()).crt).toBe(before);
  });

  it('a nearly expired issuer is shown as ~ and re-issued with the full lifetime under the same anchor', async () => {
    const dir = names.dir;
    const name = `identity.${ns}.cluster.local`;
    // An issuer from the same root with 2 minutes left of a 2-hour life: far below a third.
    await openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'old.key'], dir);
    await openssl(['req', '-new', '-key', 'old.key', '-subj', `/CN=${name}`, '-out', 'old.csr'], dir);
    const signed = await call(target, 'POST', `${names.root}/root/sign-intermediate`, {
      csr: await readFile(join(dir, 'old.csr'), 'utf8'),
      common_name: name,
      ttl: '120s',
      not_before_duration: '2h',
      max_path_length: 0,
      format: 'pem',
    });
    const old = new X509Certificate(signed.data.certificate);
    expect(old.validToDate.getTime() - Date.now()).toBeLessThan(((old.validToDate.getTime() - old.validFromDate.getTime()) * 1) / 3);
    const kube = await testKube();
    const current = (await kube.readSecret(ns, 'linkerd-identity-issuer'))!;
    const data = { ...current.data, 'tls.crt': signed.data.certificate + '\n', 'tls.key': await readFile(join(dir, 'old.key'), 'utf8') };
    await kube.writeSecret(ns, 'linkerd-identity-issuer', { ...current, data }, true);

    const renew = await bootstrap(target, config);
    const line = planLines(renew.lines).find((l) => l.includes(issuerTitle(ns)));
    expect(line).toMatch(new RegExp(`^~ ${issuerTitle(ns)}: tls\\.crt, tls\\.key, ca\\.crt \\(.*due for renewal`));
    expect(renew.applied).toContain(issuerTitle(ns));

    const o = await outputs();
    const fresh = new X509Certificate(o.crt);
    expect(fresh.serialNumber).not.toBe(old.serialNumber);
    expect(fresh.validToDate.getTime() - fresh.validFromDate.getTime()).toBeGreaterThan(config.linkerd.ttl * 1000 - 60_000);
    expect(await openssl(['verify', '-CAfile', 'ca-bundle.crt', 'tls.crt'], dir)).toMatch(/tls\.crt: OK/);
    expect(fresh.checkPrivateKey(createPrivateKey(o.key))).toBe(true);
    expect(planLines((await bootstrap(target, config)).lines).find((l) => l.includes(issuerTitle(ns)))).toMatch(/^= /);
  });

  it('refuses, before any write, an issuer Secret or anchors ConfigMap another tool made that is not under our roots', async () => {
    const other = uniqueName('l5d-foreign');
    await kubectl(['create', 'namespace', other]);
    await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'f.key', '-out', 'f.crt', '-days', '1', '-subj', '/CN=someone else'], names.dir);
    await kubectl(['-n', other, 'create', 'secret', 'tls', 'linkerd-identity-issuer', `--cert=${join(names.dir, 'f.crt')}`, `--key=${join(names.dir, 'f.key')}`]);
    const theirs = await readFile(join(names.dir, 'f.crt'), 'utf8');

    await expect(bootstrap(target, elsewhere(other))).rejects.toMatchObject({ code: 'CONFIG' });
    const kube = await testKube();
    expect((await kube.readSecret(other, 'linkerd-identity-issuer'))?.data['tls.crt']).toBe(theirs);
    expect(await kube.readConfigMap(other, 'linkerd-identity-trust-roots')).toBeUndefined();

    // The same for a trust-anchors ConfigMap holding an anchor that is not ours (left by `linkerd install`, say).
    const anchored = uniqueName('l5d-anchors');
    await kubectl(['create', 'namespace', anchored]);
    await kubectl(['-n', anchored, 'create', 'configmap', 'linkerd-identity-trust-roots', `--from-file=ca-bundle.crt=${join(names.dir, 'f.crt')}`]);
    await expect(bootstrap(target, elsewhere(anchored))).rejects.toMatchObject({ code: 'CONFIG' });
    expect((await kube.readConfigMap(anchored, 'linkerd-identity-trust-roots'))?.data['ca-bundle.crt']).toBe(theirs);
    expect(await kube.readSecret(anchored, 'linkerd-identity-issuer')).toBeUndefined();

    // Kubernetes cannot change a Secret's type, and bootstrap never deletes: an Opaque one is refused too.
    const opaque = uniqueName('l5d-opaque');
    await kubectl(['create', 'namespace', opaque]);
    await kubectl(['-n', opaque, 'create', 'secret', 'generic', 'linkerd-identity-issuer', '--from-literal=crt.pem=x']);
    await expect(bootstrap(target, elsewhere(opaque))).rejects.toMatchObject({ code: 'CONFIG' });
    expect((await kube.readSecret(opaque, 'linkerd-identity-issuer'))?.data).toEqual({ 'crt.pem': 'x' });
  });

  it('refuses a Linkerd namespace that does not exist, an issuer that would outlive the root, and a root that is not P-256', async () => {
    await expect(bootstrap(target, elsewhere(uniqueName('l5d-missing')))).rejects.toMatchObject({ code: 'CONFIG' });
    const fresh = uniqueName('l5d-long');
    await kubectl(['create', 'namespace', fresh]);
    // root.ttl - 1 s passes validation (test/bootstrap/config.test.ts refuses more); the root made in beforeAll has less than that left
    const tooLong = validateConfig({ ...structuredClone(config), linkerd: { ...config.linkerd, namespace: fresh, ttl: config.root.ttl - 1 } } as never);
    await expect(bootstrap(target, tooLong)).rejects.toMatchObject({ code: 'CONFIG' });
    expect(await (await testKube()).readSecret(fresh, 'linkerd-identity-issuer')).toBeUndefined();

    const { config: p384, names: n384 } = await isolatedConfig([ns], () => ({ linkerd: { enabled: true, namespace: ns } }));
    expect(p384.root.keyBits).toBe(384);
    await expect(bootstrap(target, p384)).rejects.toMatchObject({ code: 'CONFIG' });
    expect((await call(target, 'GET', 'sys/mounts')).data[`${n384.root}/`]).toBeUndefined();
  });
});
