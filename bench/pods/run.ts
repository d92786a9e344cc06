// One benchmark run inside the node's network namespace, on a running node:
// namespaces, our chart, HashiCorp's injector, the timed pods, the memory
// samples; then everything it made is deleted, whatever happened.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import type { NodeInfo } from '../../test/ground/node/node.ts';
import type { StackInfo } from '../../test/ground/stack/stack.ts';
import { VAULT_IMAGE, VAULT_K8S_IMAGE } from '../../test/ground/images/index.ts';
import type { ChartTarget } from '../../test/e2e/chart.ts';
import { kubeApiFrom, type KubeApi } from './api.ts';
import { sampleMemory, type SidecarRef } from './memory.ts';
import { insideLines, memoryLines, memoryStats, startLines, targetLines } from './report.ts';
import { podTimings, watchTasks } from './runtime-events.ts';
import { BUNDLE_NAMESPACE, cleanUp, exists, prepare, runObjects } from './setup.ts';
import { measureStarts } from './starts.ts';
import { installVaultK8s, vaultK8sReady } from './vault-k8s.ts';
import { INIT, KINDS, SIDECAR, type Kind } from './workloads.ts';

export interface RunOptions {
  pods: number;
  settleSeconds: number;
  gapMs: number;
  keep: boolean;
  trace: boolean;
  log: (line: string) => void;
  /** Ctrl-C: the run stops where it is and cleans up */
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((res, rej) => {
    const t = setTimeout(res, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), rej(new Error('interrupted'))), { once: true });
  });

/** The running sidecars of the injected pods, and how often the kubelet restarted them. */
async function sidecarsOf(api: KubeApi, ns: Record<Kind, string>): Promise<{ refs: SidecarRef[]; restarts: Record<Kind, number> }> {
  const refs: SidecarRef[] = [];
  const restarts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<Kind, number>;
  for (const kind of KINDS) {
    const pods = (await api.request('GET', `/api/v1/namespaces/${ns[kind]}/pods`)).items ?? [];
    for (const p of pods) {
      for (const s of [...(p.status.initContainerStatuses ?? []), ...(p.status.containerStatuses ?? [])]) {
        if (s.name !== SIDECAR[kind]) continue;
        restarts[kind] += s.restartCount;
        if (s.state?.running && s.containerID) refs.push({ ns: ns[kind], pod: p.metadata.name, container: s.name, id: String(s.containerID).replace(/^\w+:\/\//, '') });
      }
    }
  }
  return { refs, restarts };
}

export async function runPodBench(stack: StackInfo, node: NodeInfo, o: RunOptions): Promise<string[]> {
  const api = kubeApiFrom(node.kubeconfig);
  const chart: ChartTarget = {
    helm: node.helm,
    kubectl: node.kubectl,
    kubeconfig: node.kubeconfig,
    vaultToken: stack.vaultToken,
    vaultCaFile: node.vaultCaFile,
    podVaultAddr: node.podVaultAddr,
    image: node.images.agent,
  };
  const bundleNsExisted = await exists(api, `/api/v1/namespaces/${BUNDLE_NAMESPACE}`);
  const r = runObjects(randomBytes(3).toString('hex'));
  const { ns } = r;
  try {
    o.log(`[bench] run ${r.run}: namespaces ${Object.values(ns).join(', ')}; releases ${r.releases.map((x) => x.name).join(', ')}`);
    await prepare(api, chart, node, r, o.log);
    o.signal?.throwIfAborted();
    await installVaultK8s(api, { ns: ns.injector, targetNs: ns['vault-k8s'], run: r.run, injectorImage: VAULT_K8S_IMAGE, agentImage: VAULT_IMAGE, vaultAddr: node.podVaultAddr });
    await vaultK8sReady(api, ns.injector);
    o.log('[bench] vault-k8s is Ready; starting pods one at a time');

    const load0 = loadavg()[0]!;
    const tasks = watchTasks(node.containerdSocket, o.log);
    const samples = await measureStarts(api, {
      namespaces: ns,
      rounds: o.pods,
      run: r.run,
      pauseImage: node.images.pause,
      gapMs: o.gapMs,
      timeoutMs: 180_000,
      log: o.log,
      trace: o.trace,
      kubeletLog: join(node.dir, 'kubelet.log'),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    const load1 = loadavg()[0]!;
    tasks.stop();
    // The slowest pod of each kind, step by step: where an outlier lost its time.
    for (const k of KINDS) {
      const slowest = samples.filter((s) => s.kind === k && !s.warmUp).sort((a, b) => b.ms - a.ms)[0];
      if (slowest) o.log(`[bench] slowest ${k} pod ${slowest.name} (${slowest.ms.toFixed(0)} ms): ${slowest.timeline.join(' | ')}`);
    }
    for (const s of samples) {
      const pod = await api.request('GET', `/api/v1/namespaces/${s.ns}/pods/${s.name}`);
      Object.assign(s, podTimings(pod, tasks.times, s.t0Wall, INIT[s.kind]));
    }

    o.log(`[bench] all pods Ready; letting them settle ${o.settleSeconds}s before sampling memory`);
    await sleep(o.settleSeconds * 1000, o.signal);
    const sidecars = await sidecarsOf(api, ns);
    const mem = await sampleMemory(api, { node: node.nodeName, sidecars: sidecars.refs, samples: 3, intervalMs: 15_000, log: o.log });
    const { restarts } = await sidecarsOf(api, ns);
    const memStats = memoryStats(mem, restarts, new Map(KINDS.map((k) => [ns[k], k])));
    return [
      `${o.pods} pods per kind after 1 warm-up round, one pod at a time, kinds in rotating order, ${o.gapMs} ms between pods; ` +
        `${cpus().length} CPUs, load average ${load0.toFixed(2)} → ${load1.toFixed(2)}`,
      "Start latency: this process's clock, from just before the create request to the arrival of the watch event with Ready=True.",
      '',
      ...startLines(samples),
      '',
      "Inside those seconds (containerd's task events, ns resolution; the kubelet sees container changes on its 1 s relist):",
      '',
      ...insideLines(samples),
      '',
      `Memory: ${o.settleSeconds}s after the last pod was Ready, 3 samples 15s apart, mean per container, median over pods: ` +
        "the kubelet's /stats/summary (via the apiserver) and /proc of the container's processes.",
      '',
      ...memoryLines(memStats),
      '',
      ...targetLines(samples, memStats),
    ];
  } finally {
    if (o.keep) o.log(`[bench] --keep: leaving run ${r.run}'s namespaces, releases and ${r.clusterObjects.join(', ')}`);
    else await cleanUp(api, chart, r, { ...(bundleNsExisted ? {} : { bundleNs: BUNDLE_NAMESPACE }), log: o.log });
  }
}
