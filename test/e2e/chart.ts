// Installs the project's Helm chart into the node's cluster the way an
// operator with Vault outside the cluster would: a Secret with a Vault token
// for the bootstrap Job, the Vault CA as a ConfigMap, the chart's own token
// reviewer, the image built here (pull policy Never: there is no registry).
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const CHART = new URL('../../charts/vault-pki-agent', import.meta.url).pathname;
export const RELEASE = 'vpa';
export const RELEASE_NAMESPACE = 'vpa-system';
/** Labelled before the install, so the bootstrap Job publishes the trust bundle there. */
export const BUNDLE_NAMESPACE = 'vpa-e2e-bundle';
/** A namespace with this label is served by a test's own release of the chart, not the shared one. */
export const OTHER_WEBHOOK_LABEL = 'vault-pki-agent.io/e2e-webhook';

export interface ChartTarget {
  helm: string;
  kubectl: string;
  kubeconfig: string;
  vaultToken: string;
  vaultCaFile: string;
  /** Vault as pods reach it */
  podVaultAddr: string;
  /** repository:tag of the agent image */
  image: string;
}

export interface InstallOptions {
  release?: string;
  namespace?: string;
  /** extra values merged over the defaults below */
  values?: Record<string, unknown>;
  log?: (line: string) => void;
}

function cli(t: ChartTarget) {
  const env = { ...process.env, KUBECONFIG: t.kubeconfig };
  return {
    kubectl: async (args: string[], input?: string): Promise<string> => {
      const p = run(t.kubectl, args, { env, maxBuffer: 16 << 20 });
      if (input !== undefined) p.child.stdin?.end(input);
      return (await p).stdout;
    },
    helm: async (args: string[]): Promise<string> => (await run(t.helm, args, { env, maxBuffer: 16 << 20 })).stdout,
  };
}

export function chartValues(t: ChartTarget): Record<string, unknown> {
  const colon = t.image.lastIndexOf(':');
  return {
    image: { repository: t.image.slice(0, colon), tag: t.image.slice(colon + 1), pullPolicy: 'Never' },
    vault: { addr: t.podVaultAddr, caConfigMap: { name: 'vault-ca', key: 'ca.crt' } },
    // Namespaces labelled for another release's webhook (the Vault-down test's) are not ours.
    webhook: { replicas: 2, namespaceSelector: { matchExpressions: [{ key: OTHER_WEBHOOK_LABEL, operator: 'DoesNotExist' }] } },
    bootstrap: {
      enabled: true,
      vaultTokenSecret: { name: 'vault-token', key: 'token' },
      tokenReviewer: { create: true },
      config: { trustBundle: { enabled: true } },
    },
  };
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && prev && typeof prev === 'object' ? merge(prev as Record<string, unknown>, v as Record<string, unknown>) : v;
  }
  return out;
}

/** `helm install --wait`: returns once the webhook is Ready and the bootstrap hook Job has succeeded. */
export async function installChart(t: ChartTarget, opts: InstallOptions = {}): Promise<{ release: string; namespace: string; seconds: number }> {
  const release = opts.release ?? RELEASE;
  const namespace = opts.namespace ?? RELEASE_NAMESPACE;
  const log = opts.log ?? (() => undefined);
  const { kubectl, helm } = cli(t);
  const started = Date.now();
  const caPem = await readFile(t.vaultCaFile, 'utf8');
  const objects = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: BUNDLE_NAMESPACE, labels: { 'vault-pki-agent.io/enabled': 'true' } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'vault-token', namespace }, stringData: { token: t.vaultToken } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vault-ca', namespace }, data: { 'ca.crt': caPem } },
  ];
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
  const dir = await mkdtemp(join(tmpdir(), 'vpa-chart-'));
  const valuesFile = join(dir, 'values.json');
  await writeFile(valuesFile, JSON.stringify(merge(chartValues(t), opts.values ?? {})));
  log(`[e2e] helm install ${release} into ${namespace} …`);
  try {
    await helm(['install', release, CHART, '--namespace', namespace, '--values', valuesFile, '--wait', '--wait-for-jobs', '--timeout', '5m']);
  } catch (err) {
    const pods = await kubectl(['get', 'pods', '-A', '-o', 'wide']).catch(() => '');
    const events = await kubectl(['get', 'events', '-n', namespace, '--sort-by=.lastTimestamp']).catch(() => '');
    const jobLog = await kubectl(['logs', '-n', namespace, '-l', 'app.kubernetes.io/component=bootstrap', '--tail=30']).catch(() => '');
    throw new Error(`helm install ${release} failed: ${(err as { stderr?: string }).stderr ?? (err as Error).message}\npods:\n${pods}\nevents:\n${events}\nbootstrap log:\n${jobLog}`);
  }
  const seconds = (Date.now() - started) / 1000;
  log(`[e2e] helm install ${release}: ready in ${seconds.toFixed(1)}s`);
  return { release, namespace, seconds };
}

export async function uninstallChart(t: ChartTarget, release: string, namespace: string): Promise<void> {
  await cli(t).helm(['uninstall', release, '--namespace', namespace, '--wait', '--timeout', '2m']);
}
