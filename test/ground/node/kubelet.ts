// One kubelet for the node: cgroups below the stack's own (cgroupfs driver,
// cgroup v1), its files in the stack's folder, serving on the node's IP with
// a certificate from the cluster's CA, registering as `vpa-node`.

import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, start, waitHealthy, type Managed } from '../stack/process.ts';
import { issueCert, type KubePki } from '../stack/tls.ts';
import { kubeconfigFor, kubeGet } from './kubeapi.ts';
import { NODE_IP } from './netns.ts';

export const NODE_NAME = 'vpa-node';

export interface KubeletOptions {
  stackDir: string;
  bin: string;
  apiUrl: string;
  pki: KubePki;
  containerdSocket: string;
  cgroupRoot: string;
}

function config(o: KubeletOptions, root: string, serving: { cert: string; key: string }, healthzPort: number): string {
  const cfg = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // This host is cgroup v1 (hybrid); kubelet 1.35 refuses v1 unless told otherwise.
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    // Everything the kubelet creates (QoS classes, pods) lies below this, itself below our own cgroup.
    cgroupRoot: o.cgroupRoot,
    cgroupsPerQOS: true,
    // No reservations enforced: the kubelet must not set limits on cgroups it did not make.
    enforceNodeAllocatable: [],
    failSwapOn: false,
    // The kubelet acts on node-wide disk and memory figures; these are the host's, not ours:
    // no eviction thresholds, and image GC never triggers (100 %).
    evictionHard: {},
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    // Read the kernel tunables, never write them: mounts.ts shows it the values it wants.
    protectKernelDefaults: true,
    oomScoreAdj: 0,
    address: NODE_IP,
    port: 10250,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort,
    tlsCertFile: serving.cert,
    tlsPrivateKeyFile: serving.key,
    // `kubectl logs/exec` arrive from the kube-apiserver with its kubelet client certificate.
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true }, x509: { clientCAFile: o.pki.caCert } },
    authorization: { mode: 'Webhook' },
    containerRuntimeEndpoint: `unix://${o.containerdSocket}`,
    podLogsDir: join(root, 'pod-logs'),
    volumePluginDir: join(root, 'volume-plugins'),
    clusterDomain: 'cluster.local',
    resolvConf: '/etc/resolv.conf',
    serializeImagePulls: false,
    nodeStatusUpdateFrequency: '5s',
    syncFrequency: '10s',
  };
  return JSON.stringify(cfg, null, 2);
}

export interface Kubelet {
  proc: Managed;
  rootDir: string;
}

export async function startKubelet(o: KubeletOptions): Promise<Kubelet> {
  const root = join(o.stackDir, 'kubelet');
  const pkiDir = join(o.stackDir, 'kube-pki');
  await mkdir(join(root, 'pod-logs'), { recursive: true });
  const serving = await issueCert(pkiDir, 'kubelet-serving', `/CN=${NODE_NAME}`, `subjectAltName=IP:${NODE_IP},DNS:${NODE_NAME}\nextendedKeyUsage=serverAuth\n`);
  const client = await issueCert(pkiDir, 'kubelet-client', `/O=system:nodes/CN=system:node:${NODE_NAME}`, 'extendedKeyUsage=clientAuth\n');
  const kubeconfig = join(root, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigFor({ server: o.apiUrl, ca: o.pki.caCert, ...client }));
  const configFile = join(root, 'config.json');
  const healthzPort = await freePort();
  await writeFile(configFile, config(o, root, serving, healthzPort));
  const proc = start(
    'kubelet',
    o.bin,
    [`--config=${configFile}`, `--kubeconfig=${kubeconfig}`, `--root-dir=${root}`, `--cert-dir=${join(root, 'pki')}`, `--hostname-override=${NODE_NAME}`, `--node-ip=${NODE_IP}`, '--v=1'],
    { logFile: join(o.stackDir, 'kubelet.log') },
  );
  return { proc, rootDir: root };
}

/** Waits until the node reports Ready (the kubelet registered, the runtime and CNI work). */
export async function waitNodeReady(kubelet: Kubelet, api: { url: string; pki: KubePki }, timeoutMs = 120_000): Promise<void> {
  await waitHealthy(
    kubelet.proc,
    async () => {
      const node = (await kubeGet(api, `/api/v1/nodes/${NODE_NAME}`)) as { status?: { conditions?: { type: string; status: string }[] } } | undefined;
      return node?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
    },
    timeoutMs,
  );
}
