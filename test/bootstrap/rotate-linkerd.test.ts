// Root rotation with linkerd.enabled (one cluster), against the real stack:
// the phases themselves keep Linkerd's objects right, as Linkerd's trust
// anchor rotation asks — both roots in linkerd-identity-trust-roots during
// the overlap, the issuer re-issued under the new root at switch, the old
// anchor gone after finish — so a plain bootstrap after each phase has
// nothing left to do for Linkerd.
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../agent/wait.ts';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { kubectl, uniqueName } from '../ground/context.ts';
import { bootstrap, call, devVault, isolatedConfig, openssl, testKube, type Names } from './helpers.ts';
import { fingerprints, rotate, status } from './rotate-helpers.ts';

const ns = uniqueName('rl5d');
const ISSUER = `Linkerd identity issuer Secret ${ns}/linkerd-identity-issuer`;
const ANCHORS = `Linkerd trust anchors ConfigMap ${ns}/linkerd-identity-trust-roots`;
let config: BootstrapConfig;
let names: Names;
let oldRoot: string;
let newRoot: string;
let issuerBefore: X509Certificate;

async function linkerd(): Promise<{ anchors: string[]; ca: string[]; issuer: X509Certificate; key: string }> {
  const kube = await testKube();
  const s = (await kube.readSecret(ns, 'linkerd-identity-issuer'))!;
  const bundle = (await kube.readConfigMap(ns, 'linkerd-identity-trust-roots'))!.data['ca-bundle.crt']!;
  await writeFile(join(names.dir, 'ca-bundle.crt'), bundle);
  await writeFile(join(names.dir, 'tls.crt'), s.data['tls.crt']!);
  return { anchors: fingerprints(bundle).sort(), ca: fingerprints(s.data['ca.crt']!).sort(), issuer: new X509Certificate(s.data['tls.crt']!), key: s.data['tls.key']! };
}
const rootCert = async () => new X509Certificate((await call(devVault(), 'GET', `${names.root}/issuer/default/json`)).data.certificate);
/** What a plain bootstrap would still change for Linkerd (dry run: nothing written). */
const linkerdLeft = async () => (await bootstrap(devVault(), config, { dryRun: true })).plan.filter((p) => p.title.includes('Linkerd') && p.action !== 'unchanged');

beforeAll(async () => {
  await kubectl(['create', 'namespace', ns]);
  ({ config, names } = await isolatedConfig([ns], (n) => ({
    root: { mount: n.root, keyType: 'ec', keyBits: 256 },
    linkerd: { enabled: true, namespace: ns },
    rotation: { propagation: '1s' },
  })));
  await bootstrap(devVault(), config);
  oldRoot = (await rootCert()).fingerprint256;
  issuerBefore = (await linkerd()).issuer;
}, 120_000);

describe('rotate --scope root with linkerd.enabled', () => {
  it("prepare puts both roots in Linkerd's anchors and the issuer's ca.crt, and leaves the issuer itself alone", async () => {
    const run = await rotate(devVault(), config, { scope: 'root', phase: 'prepare' });
    expect(run.plan.filter((p) => p.title.includes('Linkerd')).map((p) => `${p.action} ${p.title}: ${p.fields.join(',')}`)).toEqual([
      `change ${ANCHORS}: ca-bundle.crt`,
      `change ${ISSUER}: ca.crt`,
    ]);
    const l = await linkerd();
    newRoot = l.anchors.find((f) => f !== oldRoot)!;
    expect(l.anchors).toEqual([oldRoot, newRoot].sort());
    expect(l.ca).toEqual(l.anchors);
    expect(l.issuer.fingerprint256).toBe(issuerBefore.fingerprint256);
    expect(await linkerdLeft()).toEqual([]);
  });

  it('switch re-issues the issuer (new key) under the new root; openssl verifies it against the two-root anchors', async () => {
    // rotation.propagation (1s) after the publication: --status says when switch may run
    await waitFor(async () => (await status(devVault(), config)).some((l) => l.includes('next: --phase switch, now')), { intervalMs: 300 });
    await rotate(devVault(), config, { scope: 'root', phase: 'switch' });
    const l = await linkerd();
    const root = await rootCert();
    expect(root.fingerprint256).toBe(newRoot);
    expect(l.issuer.verify(root.publicKey)).toBe(true);
    expect(l.issuer.publicKey.export({ type: 'spki', format: 'pem' })).not.toBe(issuerBefore.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(l.anchors).toEqual([oldRoot, newRoot].sort());
    expect(await openssl(['verify', '-x509_strict', '-CAfile', 'ca-bundle.crt', 'tls.crt'], names.dir)).toMatch(/tls\.crt: OK/);
    expect(await linkerdLeft()).toEqual([]);
  });

  it('finish (forced) leaves only the new root in the anchors and ca.crt; the issuer still verifies', async () => {
    await rotate(devVault(), config, { scope: 'root', phase: 'finish', force: true });
    const l = await linkerd();
    expect(l.anchors).toEqual([newRoot]);
    expect(l.ca).toEqual([newRoot]);
    expect(await openssl(['verify', '-x509_strict', '-CAfile', 'ca-bundle.crt', 'tls.crt'], names.dir)).toMatch(/tls\.crt: OK/);
    expect(await linkerdLeft()).toEqual([]);
  });
});
