// Without kubernetesAuth.host and caFile, bootstrap gives Vault the API
// address and CA of the kubeconfig it was handed. The kubeconfig here is the
// stack's, rewritten to name the API server `localhost` (a SAN of its serving
// certificate): an address only that file holds, so Vault's config can only
// have it from there — and a workload login proves Vault can use it.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateConfig, type BootstrapConfig } from '../../src/bootstrap/config.ts';
import { loadKube } from '../../src/bootstrap/kube.ts';
import { runBootstrap } from '../../src/bootstrap/run.ts';
import { bootstrapVault } from '../../src/bootstrap/vault.ts';
import { createVaultClient } from '../../src/vault/client.ts';
import { saToken, serviceAccount, stack, uniqueName } from '../ground/context.ts';
import { call, devVault, isolatedConfig, workloadLogin } from './helpers.ts';

const target = devVault();
const ns = uniqueName('kh');
let kubeconfig: string;
let server: string;
let kubeCaPem: string;
let config: BootstrapConfig;
let auth: string;
let lines: string[];

beforeAll(async () => {
  await serviceAccount(ns, 'app');
  const { config: base, names } = await isolatedConfig([ns]);
  auth = names.auth;
  const { parse } = await import('yaml');
  const original = await readFile(stack().kubeconfig, 'utf8');
  const cluster = parse(original).clusters[0].cluster;
  kubeCaPem = cluster['certificate-authority-data']
    ? Buffer.from(cluster['certificate-authority-data'], 'base64').toString('utf8')
    : await readFile(cluster['certificate-authority'], 'utf8');
  server = String(cluster.server).replace('://127.0.0.1:', '://localhost:');
  expect(server).toMatch(/^https:\/\/localhost:\d+$/);
  kubeconfig = join(names.dir, 'kubeconfig');
  await writeFile(kubeconfig, original.replace(String(cluster.server), server), { mode: 0o600 });
  // isolatedConfig's names and reviewer JWT, without the two settings under test.
  config = validateConfig({
    root: { mount: base.root.mount },
    intermediate: { mount: base.intermediate.mount },
    kubernetesAuth: { mount: names.auth, policy: names.policy, reviewerJwtFile: join(names.dir, 'reviewer.jwt'), role: { namespaces: [ns] } },
  });
  lines = [];
  const vault = bootstrapVault(createVaultClient({ address: target.addr, caPem: target.caPem }), target.token);
  await runBootstrap({ config, vault, kube: () => loadKube(kubeconfig), out: (l) => lines.push(l) });
});

describe('bootstrap without kubernetesAuth.host', () => {
  it("configures Vault's Kubernetes auth with the kubeconfig's API address and CA, and says so in the plan", async () => {
    const authConfig = (await call(target, 'GET', `auth/${auth}/config`)).data;
    expect(authConfig.kubernetes_host).toBe(server);
    expect(authConfig.kubernetes_ca_cert.trim()).toBe(kubeCaPem.trim());
    expect(lines.join('\n')).toContain(`auth ${auth}/config (${server}`);
  });

  it('a service account of a bound namespace logs in through it', async () => {
    const token = await workloadLogin(target, auth, await saToken(ns, 'app'));
    expect(token).toMatch(/^hvb\.|^hvs\./);
  });
});
