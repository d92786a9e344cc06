// Issue 8, item 3: the chart installed for real. The e2e global setup ran
// `helm install --wait` (webhook Deployment, bootstrap hook Job against the
// stack's Vault); here: what that left, and an uninstall that leaves no
// webhook configuration behind (a dangling failurePolicy Fail webhook would
// block every annotated pod in the cluster).
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stack, vault } from '../ground/context.ts';
import { BUNDLE_NAMESPACE, RELEASE_NAMESPACE, installChart, uninstallChart, type ChartTarget } from './chart.ts';
import { getJson, kubectl, node, uniqueName, waitFor } from './cluster.ts';

const WEBHOOK = 'vpa-vault-pki-agent-webhook';

function target(): ChartTarget {
  const n = node();
  return { helm: n.helm, kubectl: n.kubectl, kubeconfig: stack().kubeconfig, vaultToken: stack().vaultToken, vaultCaFile: n.vaultCaFile, podVaultAddr: n.podVaultAddr, image: n.images.agent };
}

async function webhookConfigs(): Promise<string[]> {
  return (await kubectl(['get', 'mutatingwebhookconfigurations', '-o', 'name'])).split('\n').filter(Boolean);
}

describe('the Helm chart on a real node', () => {
  it('runs the webhook Deployment Ready on its own TLS, with the caBundle it published', async () => {
    const deploy = await getJson(['deployment', WEBHOOK, '-n', RELEASE_NAMESPACE]);
    expect(deploy.status.readyReplicas).toBe(2);
    const mwc = await getJson(['mutatingwebhookconfiguration', WEBHOOK]);
    const ca = new X509Certificate(Buffer.from(mwc.webhooks[0].clientConfig.caBundle, 'base64'));
    expect(ca.ca).toBe(true);
  });

  it('ran the bootstrap hook Job to completion against the stack\'s Vault and published the trust bundle', async () => {
    const mounts = await vault('GET', 'sys/mounts');
    expect(Object.keys(mounts.data)).toEqual(expect.arrayContaining(['pki/', 'pki_istio/']));
    const role = await vault('GET', 'auth/kubernetes/role/mesh-workload');
    expect(role.data.audience).toBe('vault');
    // hook-delete-policy hook-succeeded: the Job is gone only because it succeeded.
    expect(await kubectl(['get', 'jobs', '-n', RELEASE_NAMESPACE, '-o', 'name'])).toBe('');
    const bundle = await getJson(['configmap', 'vault-pki-agent-trust-bundle', '-n', BUNDLE_NAMESPACE]);
    const root = await vault('GET', 'pki/cert/ca');
    expect(new X509Certificate(bundle.data['root-cert.pem']).fingerprint256).toBe(new X509Certificate(root.data.certificate).fingerprint256);
  });

  it('leaves no MutatingWebhookConfiguration behind after helm uninstall', async () => {
    const ns = uniqueName('e2e-uninstall');
    const release = 'vpa-un';
    // A second release whose webhook selects no namespace, so it never touches the other tests' pods.
    await installChart(target(), {
      release,
      namespace: ns,
      values: { webhook: { replicas: 1, namespaceSelector: { matchLabels: { 'vault-pki-agent.io/e2e-never': 'true' } } }, bootstrap: { enabled: false } },
    });
    const name = `mutatingwebhookconfiguration.admissionregistration.k8s.io/${release}-vault-pki-agent-webhook`;
    expect(await webhookConfigs()).toContain(name);
    await waitFor(async () => Boolean((await getJson(['mutatingwebhookconfiguration', `${release}-vault-pki-agent-webhook`])).webhooks[0].clientConfig.caBundle), {
      what: () => 'the second webhook to publish its caBundle',
    });
    await uninstallChart(target(), release, ns);
    expect(await webhookConfigs()).not.toContain(name);
    expect(await webhookConfigs()).toContain(`mutatingwebhookconfiguration.admissionregistration.k8s.io/${WEBHOOK}`);
  }, 300_000);
});
