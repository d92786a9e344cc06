// What the pod tests share: the node's facts, kubectl as admin against the
// node's apiserver, and waits on pod state that name what never happened.
// The e2e project runs inside the stack's network namespace, so the
// cluster's addresses are reachable as they are.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { kubectl } from '../ground/context.ts';
import { waitFor } from '../agent/wait.ts';

export { kubectl, uniqueName } from '../ground/context.ts';
export { waitFor } from '../agent/wait.ts';

export type NodeInfo = ReturnType<typeof node>;

export function node() {
  return inject('node');
}

export function vaultCaPemForPods(): string {
  return readFileSync(node().vaultCaFile, 'utf8');
}

/** The image every injected container and the chart run (built from the project's Dockerfile). */
export function agentImage(): string {
  return node().images.agent;
}

export async function apply(objects: object[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

export async function getJson<T = any>(args: string[]): Promise<T> {
  return JSON.parse(await kubectl(['get', ...args, '-o', 'json'])) as T;
}

export interface Pod {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string>; deletionTimestamp?: string; labels?: Record<string, string> };
  spec: any;
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string }[];
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
  };
}

export interface ContainerStatus {
  name: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  containerID?: string;
  state: { running?: { startedAt: string }; waiting?: { reason?: string }; terminated?: { exitCode: number; reason?: string; startedAt?: string; finishedAt?: string } };
  lastState?: { terminated?: { exitCode: number; reason?: string; finishedAt?: string } };
}

export function pods(ns: string, selector?: string): Promise<Pod[]> {
  return getJson<{ items: Pod[] }>(['pods', '-n', ns, ...(selector ? ['-l', selector] : [])]).then((l) => l.items);
}

export function pod(ns: string, name: string): Promise<Pod> {
  return getJson<Pod>(['pod', '-n', ns, name]);
}

export function isReady(p: Pod): boolean {
  return p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

export function statusOf(p: Pod, container: string): ContainerStatus | undefined {
  return [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])].find((s) => s.name === container);
}

/** Waits until `cond` holds for the pod; the error shows the pod's last status and events. */
export async function waitPod(ns: string, name: string, cond: (p: Pod) => boolean, what: string, timeoutMs = 120_000): Promise<Pod> {
  let last: Pod | undefined;
  try {
    await waitFor(
      async () => {
        last = await pod(ns, name).catch(() => undefined);
        return last !== undefined && cond(last);
      },
      { timeoutMs, intervalMs: 250, what: () => `${ns}/${name}: ${what}` },
    );
  } catch (err) {
    const events = await kubectl(['get', 'events', '-n', ns, '--field-selector', `involvedObject.name=${name}`]).catch(() => '');
    throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.status)}\nevents:\n${events}`);
  }
  return last!;
}

export async function waitPodsReady(ns: string, selector: string, count: number, timeoutMs = 180_000): Promise<Pod[]> {
  let ready: Pod[] = [];
  await waitFor(
    async () => {
      ready = (await pods(ns, selector)).filter((p) => isReady(p) && !p.metadata.deletionTimestamp);
      return ready.length >= count;
    },
    { timeoutMs, intervalMs: 500, what: () => `${count} ready pods matching ${selector} in ${ns} (have ${ready.length})` },
  );
  return ready;
}

export async function logs(ns: string, podName: string, container: string, opts: { previous?: boolean } = {}): Promise<string> {
  return kubectl(['logs', '-n', ns, podName, '-c', container, ...(opts.previous ? ['--previous'] : [])]);
}

/** A namespace whose service accounts may log in to Vault (opt-in label), with the Vault CA ConfigMap injected pods mount. */
export async function workloadNamespace(ns: string, opts: { optIn?: boolean } = {}): Promise<void> {
  await apply([
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: opts.optIn === false ? {} : { 'vault-pki-agent.io/enabled': 'true' } },
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'vault-ca', namespace: ns }, data: { 'ca.crt': vaultCaPemForPods() } },
  ]);
  await waitFor(async () => (await kubectl(['get', 'sa', 'default', '-n', ns]).catch(() => '')) !== '', {
    timeoutMs: 30_000,
    what: () => `the default service account of ${ns} (kube-controller-manager creates it)`,
  });
}

export function serviceAccountObject(ns: string, name: string): object {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } };
}

const APPS = new URL('./apps/', import.meta.url).pathname;

/** The test workloads' scripts (test/e2e/apps), mounted at /apps and run by the image's own node. */
export function appsConfigMap(ns: string): object {
  const data: Record<string, string> = {};
  for (const f of ['credentials.mjs', 'mtls-server.mjs', 'mtls-client.mjs', 'watch-files.mjs', 'check-identity.mjs']) data[f] = readFileSync(APPS + f, 'utf8');
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'e2e-apps', namespace: ns }, data };
}

/** A container of the test workloads: the agent's image (it has node), non-root, read-only root. */
export function appContainer(name: string, command: string[], extra: Record<string, unknown> = {}): object {
  return {
    name,
    image: agentImage(),
    imagePullPolicy: 'Never',
    command,
    volumeMounts: [{ name: 'apps', mountPath: '/apps', readOnly: true }],
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
    ...extra,
  };
}

export const APPS_VOLUME = { name: 'apps', configMap: { name: 'e2e-apps' } };
export const POD_SECURITY = { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } };

/** JSON log lines of a container (non-JSON lines dropped). */
export async function jsonLogs<T = Record<string, unknown>>(ns: string, podName: string, container: string): Promise<T[]> {
  return (await logs(ns, podName, container))
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}

/**
 * Names of the files in a pod's emptyDir volume, read on the node itself
 * (the kubelet's pods folder; inside the node's mount namespace when it has one).
 */
export async function emptyDirFiles(p: Pod, volume: string): Promise<string[]> {
  const dir = `${node().kubeletRootDir}/pods/${p.metadata.uid}/volumes/kubernetes.io~empty-dir/${volume}`;
  const pid = node().mountNamespacePid;
  const cmd = pid ? ['nsenter', `--mount=/proc/${pid}/ns/mnt`, '--', 'ls', '-A', dir] : ['ls', '-A', dir];
  const { stdout } = await promisify(execFile)(cmd[0]!, cmd.slice(1));
  return stdout.split('\n').filter(Boolean);
}

/** A pod annotated for injection with one test-app container, as the tests' workloads are. */
export function injectedPod(ns: string, name: string, o: { serviceAccount: string; container: object; securityContext?: object }): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, annotations: { 'vault-pki-agent.io/inject': 'true' } },
    spec: { serviceAccountName: o.serviceAccount, securityContext: o.securityContext ?? POD_SECURITY, containers: [o.container], volumes: [APPS_VOLUME] },
  };
}
