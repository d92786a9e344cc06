// What a run makes before its first pod, and takes away after: a namespace
// per kind (plus one for HashiCorp's injector), two releases of our chart
// (native sidecar, the default; and nativeSidecar=false), vault-k8s.
// Every name carries the run's id, so runs never share an object.
import { readFile } from 'node:fs/promises';
import type { NodeInfo } from '../../test/ground/node/node.ts';
import { BUNDLE_NAMESPACE, OTHER_WEBHOOK_LABEL, installChart, uninstallChart, type ChartTarget } from '../../test/e2e/chart.ts';
import { KubeApiError, type KubeApi } from './api.ts';
import { vaultK8sClusterObjects } from './vault-k8s.ts';
import { KINDS, SERVICE_ACCOUNT, VAULT_TLS_SECRET, type Kind } from './workloads.ts';

type Log = (line: string) => void;

export type Namespaces = Record<Kind | 'injector', string>;

export interface Release {
  name: string;
  /** the kind of pods it injects */
  kind: 'ours' | 'ours-regular';
  values: Record<string, unknown>;
}

export interface RunObjects {
  run: string;
  ns: Namespaces;
  releases: Release[];
  /** API paths of vault-k8s's cluster-scoped objects */
  clusterObjects: string[];
}

export function runObjects(run: string): RunObjects {
  const base = `vpab-${run}`;
  // One webhook replica each, serving only its own namespace of this run; the
  // first release's bootstrap Job configures Vault, the second's would repeat it.
  const selector = (name: string) => ({ replicas: 1, namespaceSelector: { matchExpressions: [{ key: OTHER_WEBHOOK_LABEL, operator: 'In', values: [name] }] } });
  return {
    run,
    ns: { plain: `vpab-plain-${run}`, ours: `vpab-ours-${run}`, 'ours-regular': `vpab-regular-${run}`, 'vault-k8s': `vpab-vk8s-${run}`, injector: `vpab-injector-${run}` },
    releases: [
      { name: base, kind: 'ours', values: { webhook: selector(base) } },
      { name: `${base}-r`, kind: 'ours-regular', values: { webhook: selector(`${base}-r`), injector: { nativeSidecar: 'false' }, bootstrap: { enabled: false } } },
    ],
    clusterObjects: vaultK8sClusterObjects(run),
  };
}

export async function waitFor(what: string, cond: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const exists = (api: KubeApi, path: string): Promise<boolean> =>
  api.request('GET', path).then(
    () => true,
    (e) => (e instanceof KubeApiError && e.status === 404 ? false : Promise.reject(e)),
  );

/** The kinds' namespaces with their service account and Vault's CA, then both chart releases. */
export async function prepare(api: KubeApi, chart: ChartTarget, node: NodeInfo, r: RunObjects, log: Log): Promise<void> {
  const caPem = await readFile(node.vaultCaFile, 'utf8');
  const releaseOf = (kind: Kind) => r.releases.find((x) => x.kind === kind)?.name ?? r.releases[0]!.name;
  for (const kind of KINDS) {
    // Served by this run's releases only (the e2e suite's shared release skips namespaces with the label);
    // the Vault role admits the injected kinds through the opt-in label.
    const labels: Record<string, string> = { [OTHER_WEBHOOK_LABEL]: releaseOf(kind), ...(kind === 'plain' ? {} : { 'vault-pki-agent.io/enabled': 'true' }) };
    await api.request('POST', '/api/v1/namespaces', { metadata: { name: r.ns[kind], labels } });
    await api.request('POST', `/api/v1/namespaces/${r.ns[kind]}/serviceaccounts`, { metadata: { name: SERVICE_ACCOUNT } });
  }
  await api.request('POST', '/api/v1/namespaces', { metadata: { name: r.ns.injector } });
  for (const kind of ['ours', 'ours-regular'] as const) {
    await api.request('POST', `/api/v1/namespaces/${r.ns[kind]}/configmaps`, { metadata: { name: 'vault-ca' }, data: { 'ca.crt': caPem } });
  }
  await api.request('POST', `/api/v1/namespaces/${r.ns['vault-k8s']}/secrets`, { metadata: { name: VAULT_TLS_SECRET }, stringData: { 'ca.crt': caPem } });
  // Every pod mounts kube-root-ca.crt (kube-controller-manager publishes it): a pod created before it waits for it.
  for (const kind of KINDS) await waitFor(`kube-root-ca.crt in ${r.ns[kind]}`, () => exists(api, `/api/v1/namespaces/${r.ns[kind]}/configmaps/kube-root-ca.crt`));
  for (const rel of r.releases) await installChart(chart, { release: rel.name, namespace: rel.name, log, values: rel.values });
}

/** Deletes whatever of `r` exists (a failed start made only part of it); `bundleNs` too when this run created it. */
export async function cleanUp(api: KubeApi, chart: ChartTarget, r: RunObjects, o: { bundleNs?: string; log: Log }): Promise<void> {
  const problems: string[] = [];
  // What a failed start never made answers 404 (or helm's "not found"): nothing left, nothing to report.
  const attempt = (what: string, p: Promise<unknown>) =>
    p.catch((e: Error & { stderr?: string }) => {
      if ((e instanceof KubeApiError && e.status === 404) || /not found/i.test(e.stderr ?? '')) return;
      problems.push(`${what}: ${(e.stderr || e.message).trim().split('\n')[0]}`);
    });
  for (const path of r.clusterObjects) await attempt(`delete ${path}`, api.request('DELETE', path));
  for (const rel of r.releases) await attempt(`helm uninstall ${rel.name}`, uninstallChart(chart, rel.name, rel.name));
  const namespaces = [...Object.values(r.ns), ...r.releases.map((x) => x.name), ...(o.bundleNs ? [o.bundleNs] : [])];
  for (const ns of namespaces) await attempt(`delete namespace ${ns}`, api.request('DELETE', `/api/v1/namespaces/${ns}`));
  await attempt(
    'namespaces to go',
    waitFor(
      `namespaces ${namespaces.join(', ')} to be deleted`,
      async () => {
        for (const ns of namespaces) if (await exists(api, `/api/v1/namespaces/${ns}`)) return false;
        return true;
      },
      180_000,
    ),
  );
  o.log(
    problems.length
      ? `[bench] clean-up left: ${problems.join('; ')}`
      : `[bench] cleaned up: ${namespaces.length} namespaces, releases ${r.releases.map((x) => x.name).join(', ')}, ${r.clusterObjects.length} cluster objects`,
  );
}

export { BUNDLE_NAMESPACE };
