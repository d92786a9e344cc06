// The local stack: etcd + kube-apiserver + a Vault dev server on free loopback
// ports, and `<dir>/env` for `source`. The same code serves `npm run stack`,
// the demo and vitest's global setup. It configures nothing product-specific.
// With `node` (called inside the node's network namespace, see node/host.ts)
// it also starts a kubelet node, and Vault and the kube-apiserver listen on
// the node's IP too. With `clusters: 2` a second kube-apiserver (cluster b,
// loopback only) shares etcd under a key prefix of its own.

import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ensurePeer } from '../peers/build.ts';
import { RECIPES } from '../peers/recipes.ts';
import type { ImageArchive } from '../images/index.ts';
import { NODE_IP, KUBERNETES_SERVICE_IP } from '../node/netns.ts';
import { startNode, type NodeInfo, type RunningNode } from '../node/node.ts';
import { writeShims } from '../node/shims.ts';
import { startExtraCluster, startKube, type Kube } from './kube.ts';
import { vaultPeer, type VaultPeer } from './peers.ts';
import { startDevVault, type VaultServer } from './vault.ts';

export interface StackInfo {
  dir: string;
  peer: VaultPeer;
  vaultVersion: string;
  kubeVersion: string;
  vaultAddr: string;
  vaultToken: string;
  vaultCaFile: string;
  vaultBin: string;
  kubeUrl: string;
  kubeCaPem: string;
  kubeconfig: string;
  /** folder holding vault/bao, kubectl, kube-apiserver, etcd */
  path: string[];
  /** vault-cert.pem / vault-key.pem of the dev server, reusable by a file-storage Vault */
  vaultTls: { cert: string; key: string };
  /** every cluster, "a" first (the one kubeUrl/kubeconfig above name); more with `clusters` */
  clusters: ClusterInfo[];
}

/** One kube-apiserver of the stack, with its own CA, service-account key and admin kubeconfig. */
export interface ClusterInfo {
  name: string;
  kubeUrl: string;
  kubeCaPem: string;
  kubeconfig: string;
}

export interface Stack {
  info: StackInfo;
  /** set in node mode */
  node?: NodeInfo;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** start a kubelet node too; the caller runs inside `netns` (see node/host.ts) */
  node?: { netns: string; images: readonly ImageArchive[] };
  /** how many kube-apiservers (default 1): clusters "b", "c", … share etcd under prefixes of their own */
  clusters?: number;
}

/** Cluster names in start order: a, b, c, … */
export const CLUSTER_NAMES = ['a', 'b', 'c', 'd'] as const;

const VAULT_NODE_PORT = 8200;
const KUBE_NODE_SANS = [NODE_IP, KUBERNETES_SERVICE_IP].map((ip) => `IP:${ip}`).concat('DNS:kubernetes.default.svc.cluster.local');

type Log = (line: string) => void;

/** Kills processes a previous stack in `dir` left running (a crashed test run, a killed terminal). */
async function reapLeftovers(dir: string, log: Log): Promise<void> {
  const pids = await readFile(join(dir, 'pids'), 'utf8').catch(() => '');
  for (const pid of pids.split('\n').map(Number).filter(Boolean)) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!/vault-pki-agent\/peers\//.test(cmd)) continue; // pid reused by something else
      process.kill(pid, 'SIGKILL');
      log(`[stack] killed leftover process ${pid} from an earlier run`);
    } catch {
      /* already gone */
    }
  }
}

export async function startStack(dir: string, log: Log = (l) => process.stderr.write(l + '\n'), opts: StackOptions = {}): Promise<Stack> {
  const t0 = Date.now();
  const clusterCount = opts.clusters ?? 1;
  if (!Number.isInteger(clusterCount) || clusterCount < 1 || clusterCount > CLUSTER_NAMES.length) {
    throw new Error(`clusters ${opts.clusters}: expected a whole number from 1 to ${CLUSTER_NAMES.length}`);
  }
  const peer = vaultPeer();
  await mkdir(dir, { recursive: true });
  await reapLeftovers(dir, log);
  for (const f of ['etcd', 'kube-pki', 'vault-tls', 'env', 'node.json']) await rm(join(dir, f), { recursive: true, force: true });
  for (const c of CLUSTER_NAMES.slice(1)) await rm(join(dir, `kube-pki-${c}`), { recursive: true, force: true });

  const [vaultPeerBuilt, etcd, kube] = [await ensurePeer(peer, log), await ensurePeer('etcd', log), await ensurePeer('kubernetes', log)];
  const vaultBin = Object.values(vaultPeerBuilt.bin)[0]!;
  const stopList: { stop(): Promise<void> }[] = [];
  let node: RunningNode | undefined;
  const stop = async (): Promise<void> => {
    // The node first: its kubelet and pods talk to the kube-apiserver and Vault.
    await node?.stop().catch((err) => log(`[node] stop: ${(err as Error).message}`));
    await Promise.all(stopList.map((p) => p.stop().catch(() => undefined)));
    await rm(join(dir, 'pids'), { force: true });
  };
  const remember = async (): Promise<void> => {
    const pids = [...stopList, ...(node?.processes ?? [])].map((p) => (p as { child?: { pid?: number } }).child?.pid).filter(Boolean);
    await writeFile(join(dir, 'pids'), pids.join('\n') + '\n');
  };

  let vault: VaultServer;
  let k: Kube;
  const extra: Kube[] = [];
  let extraPromise: Promise<void> = Promise.resolve();
  try {
    log('[stack] starting etcd, kube-apiserver and the Vault dev server …');
    const kubeNode = opts.node && { advertiseAddress: NODE_IP, sans: KUBE_NODE_SANS };
    const kubePromise = startKube(dir, { etcd: etcd.bin.etcd!, apiserver: kube.bin['kube-apiserver']! }, kubeNode);
    const vaultPromise = startDevVault(dir, vaultBin, opts.node && { port: VAULT_NODE_PORT, sans: [NODE_IP] });
    // More clusters start once etcd is up (they share it), while Vault may still be starting.
    extraPromise = kubePromise.then(async (first) => {
      for (const name of CLUSTER_NAMES.slice(1, clusterCount)) {
        const started = Date.now();
        const other = await startExtraCluster(dir, kube.bin['kube-apiserver']!, first.etcdUrl, name);
        extra.push(other);
        stopList.push(...other.processes);
        log(`[stack] cluster ${name}: kube-apiserver at ${other.url} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
      }
    });
    extraPromise.catch(() => undefined); // awaited below, once cluster a and Vault have settled
    const settled = await Promise.allSettled([kubePromise, vaultPromise]);
    for (const s of settled) {
      if (s.status === 'fulfilled') stopList.push(...('processes' in s.value ? s.value.processes : [s.value.proc]));
    }
    await remember();
    for (const s of settled) if (s.status === 'rejected') throw s.reason;
    k = (settled[0] as PromiseFulfilledResult<Kube>).value;
    vault = (settled[1] as PromiseFulfilledResult<VaultServer>).value;
    await extraPromise;
    await remember();
    if (opts.node) {
      log('[stack] starting the node: containerd, kube-controller-manager, kube-scheduler, kubelet …');
      const [nodeBins, helm] = [await ensurePeer('kubernetes-node', log), await ensurePeer('helm', log)];
      node = await startNode({
        dir,
        netns: opts.node.netns,
        kube: k,
        bins: {
          kubelet: nodeBins.bin.kubelet!,
          controllerManager: nodeBins.bin['kube-controller-manager']!,
          scheduler: nodeBins.bin['kube-scheduler']!,
          kubectl: kube.bin.kubectl!,
          helm: helm.bin.helm!,
        },
        images: opts.node.images,
        vault: { podAddr: `https://${NODE_IP}:${VAULT_NODE_PORT}`, caFile: vault.caFile },
        log,
      });
      await remember();
    }
  } catch (err) {
    await extraPromise.catch(() => undefined); // a cluster still starting must be in stopList first
    await stop();
    throw err;
  }

  const info: StackInfo = {
    dir,
    peer,
    vaultVersion: vaultPeerBuilt.version,
    kubeVersion: kube.version,
    vaultAddr: vault.addr,
    vaultToken: vault.token,
    vaultCaFile: vault.caFile,
    vaultBin,
    kubeUrl: k.url,
    kubeCaPem: k.caPem,
    kubeconfig: k.kubeconfig,
    path: [...new Set([dirname(vaultBin), etcd.dir, kube.dir])],
    vaultTls: { cert: join(dir, 'vault-tls', 'vault-cert.pem'), key: join(dir, 'vault-tls', 'vault-key.pem') },
    clusters: [k, ...extra].map((c, n) => ({ name: CLUSTER_NAMES[n]!, kubeUrl: c.url, kubeCaPem: c.caPem, kubeconfig: c.kubeconfig })),
  };
  let env = envFile(info);
  if (node) {
    // Node mode: the CLIs must run inside the namespace; shims first on PATH do that from a host shell.
    const bin = await writeShims(dir, node.info.netns, { kubectl: kube.bin.kubectl!, vault: vaultBin, helm: node.info.helm });
    env += nodeEnv(node.info, bin);
    await writeFile(join(dir, 'node.json'), JSON.stringify(node.info, null, 2), { mode: 0o600 });
  }
  await writeFile(join(dir, 'env'), env, { mode: 0o600 });
  await writeFile(join(dir, 'stack.json'), JSON.stringify(info, null, 2), { mode: 0o600 });
  log(
    `[stack] ready in ${((Date.now() - t0) / 1000).toFixed(1)}s: ${peer} ${vaultPeerBuilt.version} at ${vault.addr}, ` +
      `kube-apiserver ${kube.version} at ${k.url}${extra.length ? ` (+${extra.length} more cluster(s))` : ''}, etcd ${RECIPES.etcd.version}` +
      (node ? `, node ${node.info.nodeName} Ready at ${node.info.nodeIP} (netns ${node.info.netns})` : ''),
  );
  return { info, node: node?.info, stop };
}

/** Single-quoted for sh. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

function nodeEnv(node: NodeInfo, bin: string): string {
  return [
    `export VPA_NETNS=${q(node.netns)}`,
    `export CONTAINERD_ADDRESS=${q(node.containerdSocket)} CONTAINERD_NAMESPACE=k8s.io`,
    `export PATH=${q(bin)}:"$PATH"`,
    '',
  ].join('\n');
}

function envFile(info: StackInfo): string {
  return [
    '# written by the vault-pki-agent test stack; `source` it while the stack runs',
    `export VAULT_ADDR=${q(info.vaultAddr)}`,
    `export VAULT_TOKEN=${q(info.vaultToken)}`,
    `export VAULT_CACERT=${q(info.vaultCaFile)}`,
    `export BAO_ADDR="$VAULT_ADDR" BAO_TOKEN="$VAULT_TOKEN" BAO_CACERT="$VAULT_CACERT"`,
    `export KUBECONFIG=${q(info.kubeconfig)}`,
    // more clusters: KUBECONFIG_B, …, and all of them (a first) in VPA_KUBECONFIGS, colon-separated
    ...info.clusters.slice(1).map((c) => `export KUBECONFIG_${c.name.toUpperCase()}=${q(c.kubeconfig)}`),
    ...(info.clusters.length > 1 ? [`export VPA_KUBECONFIGS=${q(info.clusters.map((c) => c.kubeconfig).join(':'))}`] : []),
    `export VAULT_PEER=${q(info.peer)}`,
    `export PATH=${q(info.path.join(':'))}:"$PATH"`,
    '',
  ].join('\n');
}
