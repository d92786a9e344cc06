// The istiod plug-in CA Secret (`cacerts`) is re-issued when it no longer
// serves: its key does not match, or less than renewBefore of its lifetime is
// left — and left alone otherwise. (Re-issue after a root switch:
// test/bootstrap/rotate.test.ts.) Against the real Vault and kube-apiserver.

import { X509Certificate, createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BootstrapConfig } from '../../src/bootstrap/config.ts';
import { validateConfig } from '../../src/bootstrap/config.ts';
import { serviceAccount, uniqueName } from '../ground/context.ts';
import { bootstrap, devVault, isolatedConfig, planLines, testKube, type Names } from './helpers.ts';

const target = devVault();
const ns = uniqueName('istiod');
let config: BootstrapConfig;
let names: Names;

const secret = async () => (await (await testKube()).readSecret(ns, 'cacerts'))!;
const serial = async () => new X509Certificate((await secret()).data['ca-cert.pem']!).serialNumber;
const istiodLine = (lines: string[]) => planLines(lines).find((l) => l.includes(`istiod CA Secret ${ns}/cacerts`));

beforeAll(async () => {
  await serviceAccount(ns, 'istiod');
  ({ config, names } = await isolatedConfig([ns], () => ({ istiodCa: { enabled: true, namespace: ns, ttl: '1h' } })));
  await bootstrap(target, config);
});

describe('the istiod CA Secret', () => {
  it('is left alone while its key matches and more than renewBefore (default a third) of its life is left', async () => {
    const before = await serial();
    const again = await bootstrap(target, config);
    expect(istiodLine(again.lines)).toMatch(/^= /);
    expect(await serial()).toBe(before);
  });

  it('is re-issued, with a new key that matches, when its key does not match its certificate', async () => {
    const before = await secret();
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await (await testKube()).writeSecret(ns, 'cacerts', { ...before, data: { ...before.data, 'ca-key.pem': stranger } }, true);
    const run = await bootstrap(target, config);
    expect(istiodLine(run.lines)).toMatch(/^~ .*ca-key\.pem does not match ca-cert\.pem/);
    const after = await secret();
    const cert = new X509Certificate(after.data['ca-cert.pem']!);
    expect(cert.serialNumber).not.toBe(new X509Certificate(before.data['ca-cert.pem']!).serialNumber);
    expect(after.data['ca-key.pem']).not.toBe(stranger);
    expect(cert.checkPrivateKey(createPrivateKey(after.data['ca-key.pem']!))).toBe(true);
    expect(istiodLine((await bootstrap(target, config)).lines)).toMatch(/^= /);
  });

  it('is re-issued when less than renewBefore of its lifetime is left', async () => {
    // A fresh 1h certificate has ~99% of its life left: renewBefore 0.999 makes it due now.
    const before = await serial();
    const due = validateConfig({
      root: { mount: names.root },
      intermediate: { mount: names.int },
      kubernetesAuth: { mount: names.auth, policy: names.policy, host: config.kubernetesAuth.host, caFile: config.kubernetesAuth.caFile, reviewerJwtFile: config.kubernetesAuth.reviewerJwtFile, role: { namespaces: [ns] } },
      istiodCa: { enabled: true, namespace: ns, ttl: '1h', renewBefore: 0.999 },
    });
    const run = await bootstrap(target, due);
    expect(istiodLine(run.lines)).toMatch(/^~ .*ca-cert\.pem is due for renewal/);
    expect(await serial()).not.toBe(before);
  });
});
