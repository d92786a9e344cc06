// Issue 8, 4e: Vault is down while an injected pod starts. The init container
// keeps retrying (transient errors, for up to 60 s) and the pod runs within
// one backoff step after Vault is back. A Vault with file storage stands in
// for the cluster's Vault here, so stopping it loses nothing: a second
// release of the chart serves this test's namespace and bootstraps it.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stack } from '../ground/context.ts';
import { FileVault } from '../ground/stack/vault.ts';
import { OTHER_WEBHOOK_LABEL, installChart, uninstallChart } from './chart.ts';
import { appContainer, appsConfigMap, apply, injectedPod, isReady, kubectl, logs, node, serviceAccountObject, statusOf, uniqueName, waitFor, waitPod } from './cluster.ts';

const INIT = 'vault-pki-agent-init';

describe('Vault down while a pod starts', () => {
  const ns = uniqueName('e2e-vault-down');
  const release = 'vpa-fv';
  const releaseNs = `${ns}-sys`;
  let fileVault: FileVault | undefined;

  afterAll(async () => {
    await uninstallChart(chartTarget(), release, releaseNs).catch(() => undefined);
    await fileVault?.stop();
  });

  const chartTarget = () => {
    const n = node();
    return { helm: n.helm, kubectl: n.kubectl, kubeconfig: stack().kubeconfig, vaultToken: fileVault!.token, vaultCaFile: n.vaultCaFile, podVaultAddr: fileVault!.podAddr, image: n.images.agent };
  };

  it('retries in the init container and runs the pod within one backoff step after Vault returns', async () => {
    const s = stack();
    fileVault = await new FileVault({
      dir: await mkdtemp(join(tmpdir(), 'vpa-e2e-filevault-')),
      bin: s.vaultBin,
      caPem: await readFile(s.vaultCaFile, 'utf8'),
      tls: s.vaultTls,
      host: '0.0.0.0', // pods reach it at the node's address
      podHost: node().nodeIP,
    }).start();
    await installChart(chartTarget(), {
      release,
      namespace: releaseNs,
      values: {
        webhook: { replicas: 1, namespaceSelector: { matchLabels: { [OTHER_WEBHOOK_LABEL]: release }, matchExpressions: [] } },
        // The shared release publishes the trust bundle; this Vault's root must not overwrite it.
        bootstrap: { config: { trustBundle: { enabled: false } } },
      },
    });
    await apply([
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { 'vault-pki-agent.io/enabled': 'true', [OTHER_WEBHOOK_LABEL]: release } } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vault-ca', namespace: ns }, data: { 'ca.crt': fileVault.caPem } },
      appsConfigMap(ns),
      serviceAccountObject(ns, 'app'),
    ]);
    await waitFor(async () => (await kubectl(['get', 'sa', 'default', '-n', ns]).catch(() => '')) !== '', { what: () => `the default service account of ${ns}` });

    await fileVault.stop();
    await apply([
      injectedPod(ns, 'app', { serviceAccount: 'app', container: appContainer('app', ['node', '/apps/check-identity.mjs', '--stay']) }),
    ]);
    // Two failed attempts seen in the init container's log: it is retrying, not failing.
    const retries = async () => (await logs(ns, 'app', INIT).catch(() => '')).split('\n').filter((l) => /"retryInMs"/.test(l));
    await waitFor(async () => (await retries()).length >= 2, { timeoutMs: 45_000, intervalMs: 500, what: () => 'the init container to retry twice' });

    await fileVault.start();
    const back = Date.now();
    const lastDelay = Math.max(...(await retries()).map((l) => Number((JSON.parse(l) as { retryInMs: number }).retryInMs)));
    const p = await waitPod(ns, 'app', isReady, 'Ready after Vault returned', 90_000);
    const waited = Date.now() - back;
    expect(statusOf(p, INIT)?.state.terminated?.exitCode).toBe(0);
    expect(statusOf(p, INIT)?.restartCount).toBe(0);
    // One backoff step (the longest delay announced so far, doubled at most once more) plus the pod's own start.
    expect(waited).toBeLessThanOrEqual(2 * lastDelay + 10_000);
    console.log(`[e2e] vault-down: Ready ${waited} ms after Vault returned; longest announced retry delay ${lastDelay} ms`);
  }, 300_000);
});
