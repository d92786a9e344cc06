// The node of `npm run stack -- --node`: containerd, kube-controller-manager,
// kube-scheduler and one kubelet, started by a process that already runs in
// the node's network namespace and a private mount namespace (see host.ts),
// once etcd, kube-apiserver and Vault are up. Stopping removes every
// container, mount and cgroup it made; the namespace is the host side's.

import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { importImages, AGENT_IMAGE, NODE_IMAGE, PAUSE_IMAGE, type ImageArchive } from '../images/index.ts';
import type { Kube } from '../stack/kube.ts';
import type { Managed } from '../stack/process.ts';
import { createCgroupRoot, nodeCgroupRoot, pidsInCgroupTree, removeCgroupTree } from './cgroups.ts';
import { startContainerd, type Containerd } from './containerd.ts';
import { startControlPlane } from './control-plane.ts';
import { NODE_NAME, startKubelet, waitNodeReady } from './kubelet.ts';
import { prepareMountNs, privateMountNs, releaseMountNs, unmountBelow } from './mounts.ts';
import { insideNetns, NODE_IP } from './netns.ts';

type Log = (line: string) => void;

/** What tests get as `inject('node')`. */
export interface NodeInfo {
  netns: string;
  nodeName: string;
  nodeIP: string;
  /** Vault as pods reach it: https://10.88.0.1:8200 */
  podVaultAddr: string;
  vaultCaFile: string;
  kubeconfig: string;
  kubectl: string;
  helm: string;
  containerdSocket: string;
  /** the stack's folder */
  dir: string;
  images: { agent: string; pause: string; nodeBase: string };
  /** the kubelet's cgroupRoot (below the stack process's memory cgroup) */
  cgroupRoot: string;
  /** the kubelet's --root-dir (pods' volumes under pods/<uid>/volumes) */
  kubeletRootDir: string;
  /** a process in the node's private mount namespace, where the pods' volumes are mounted (nsenter --mount=/proc/PID/ns/mnt) */
  mountNamespacePid: number;
}

export interface NodeStartOptions {
  dir: string;
  netns: string;
  kube: Kube;
  bins: { kubelet: string; controllerManager: string; scheduler: string; kubectl: string; helm: string };
  images: readonly ImageArchive[];
  vault: { podAddr: string; caFile: string };
  log: Log;
}

export interface RunningNode {
  info: NodeInfo;
  processes: Managed[];
  stop(): Promise<void>;
}

export class NodeStartError extends Error {
  readonly code = 'NODE_START_FAILED';
}

/** The owner pid in the namespace's name: a process that stayed on the host. */
function ownerPid(netns: string): number {
  return Number(/^vpa-(\d+)-/.exec(netns)?.[1] ?? 1);
}

/** Label on each imported image: the archive's input hash, so a kept containerd root (.stack) skips the import. */
const HASH_LABEL = 'io.vault-pki-agent.archive';

async function importChanged(containerd: Containerd, images: readonly ImageArchive[], log: Log): Promise<void> {
  const listed = await containerd.ctr(['images', 'ls']).catch(() => '');
  const stale = images.filter((a) => !listed.split('\n').some((l) => l.startsWith(a.ref + ' ') && l.includes(`${HASH_LABEL}=${a.hash}`)));
  if (stale.length === 0) return log(`[node] ${images.length} image(s) already in containerd`);
  await importImages(containerd.socket, stale, log);
  for (const a of stale) await containerd.ctr(['images', 'label', a.ref, `${HASH_LABEL}=${a.hash}`]);
}

export async function startNode(o: NodeStartOptions): Promise<RunningNode> {
  if (!insideNetns(o.netns)) {
    throw new NodeStartError(`the node must start inside its network namespace ${o.netns}: run it through \`npm run stack -- --node\` or \`npm test\``);
  }
  if (!privateMountNs(ownerPid(o.netns))) {
    throw new NodeStartError('the node must start in a private mount namespace (unshare --mount): its mounts would otherwise land on the host');
  }
  const cgroupRoot = nodeCgroupRoot(o.netns);

  const stopList: { stop(): Promise<void> }[] = [];
  const processes: Managed[] = [];
  const stop = async (): Promise<void> => {
    // Reverse start order: the kubelet first, so it restarts nothing while containers go.
    for (const s of stopList.reverse()) await s.stop().catch(() => undefined);
    stopList.length = 0;
    const left = await unmountBelow(o.dir);
    if (left.length) o.log(`[node] could not unmount ${left.join(', ')}`);
    await releaseMountNs();
    for (const pid of pidsInCgroupTree(cgroupRoot)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (let i = 0; i < 30 && removeCgroupTree(cgroupRoot).length; i++) await new Promise((r) => setTimeout(r, 100));
    await rm(join(o.dir, 'kubelet'), { recursive: true, force: true }).catch(() => undefined);
  };

  try {
    await prepareMountNs(o.dir);
    const containerd = await startContainerd(o.dir);
    stopList.push(containerd);
    processes.push(containerd.proc);
    await importChanged(containerd, o.images, o.log);
    const api = { url: o.kube.url, pki: o.kube.pki };
    const cp = await startControlPlane({
      stackDir: o.dir,
      bins: { controllerManager: o.bins.controllerManager, scheduler: o.bins.scheduler },
      kubeconfig: o.kube.kubeconfig,
      api,
    });
    stopList.push(...cp);
    processes.push(...cp);
    createCgroupRoot(cgroupRoot);
    const kubelet = await startKubelet({ stackDir: o.dir, bin: o.bins.kubelet, apiUrl: o.kube.url, pki: o.kube.pki, containerdSocket: containerd.socket, cgroupRoot });
    stopList.push(kubelet.proc);
    processes.push(kubelet.proc);
    await waitNodeReady(kubelet, api);
    return {
      info: {
        netns: o.netns,
        nodeName: NODE_NAME,
        nodeIP: NODE_IP,
        podVaultAddr: o.vault.podAddr,
        vaultCaFile: o.vault.caFile,
        kubeconfig: o.kube.kubeconfig,
        kubectl: o.bins.kubectl,
        helm: o.bins.helm,
        containerdSocket: containerd.socket,
        dir: o.dir,
        images: { agent: AGENT_IMAGE, pause: PAUSE_IMAGE, nodeBase: NODE_IMAGE },
        cgroupRoot,
        kubeletRootDir: kubelet.rootDir,
        mountNamespacePid: process.pid,
      },
      processes,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
