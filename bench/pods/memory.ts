// Sidecar memory, two ways at the same moments:
// - as the kubelet reports it: /stats/summary through the apiserver's node
//   proxy, per container. workingSetBytes is what the kubelet evicts on and
//   `kubectl top` shows (cgroup usage minus inactive file pages); rssBytes is
//   the cgroup's anonymous memory. File pages (a binary's text) count only
//   in the cgroup that first read them into the page cache — here the image
//   import did, so neither sidecar is charged for its binary;
// - from /proc, for the container's processes (found by the container id in
//   /proc/PID/cgroup; the node shares this PID namespace): RSS with the
//   binary's pages, as `bench:run` reads it, and PSS, which splits pages
//   shared between the pods of a kind among them.
import { readdir, readFile } from 'node:fs/promises';
import type { KubeApi } from './api.ts';

export interface SidecarRef {
  ns: string;
  pod: string;
  container: string;
  /** containerd's id (the pod status's containerID without `containerd://`) */
  id: string;
}

export interface ContainerMemory extends Omit<SidecarRef, 'id'> {
  workingSetBytes: number;
  rssBytes: number;
  procRssBytes: number;
  procPssBytes: number;
  processes: number;
}

interface KubeletMemory {
  workingSetBytes: number;
  rssBytes: number;
}

async function summary(api: KubeApi, node: string): Promise<Map<string, KubeletMemory>> {
  const s = await api.request('GET', `/api/v1/nodes/${node}/proxy/stats/summary`);
  const out = new Map<string, KubeletMemory>();
  for (const p of s.pods ?? []) {
    for (const c of p.containers ?? []) {
      if (c.memory?.workingSetBytes === undefined) continue;
      out.set(`${p.podRef.namespace}/${p.podRef.name}/${c.name}`, { workingSetBytes: c.memory.workingSetBytes, rssBytes: c.memory.rssBytes ?? NaN });
    }
  }
  return out;
}

/** Container id → its processes' RSS and PSS (bytes), from /proc. */
async function procMemory(ids: readonly string[]): Promise<Map<string, { rss: number; pss: number; processes: number }>> {
  const out = new Map<string, { rss: number; pss: number; processes: number }>();
  for (const pid of (await readdir('/proc')).filter((d) => /^\d+$/.test(d))) {
    const cgroup = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
    const id = ids.find((i) => cgroup.includes(i));
    if (!id) continue;
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    const a = out.get(id) ?? { rss: 0, pss: 0, processes: 0 };
    out.set(id, { rss: a.rss + kb('Rss'), pss: a.pss + kb('Pss'), processes: a.processes + 1 });
  }
  return out;
}

export interface MemoryOptions {
  node: string;
  sidecars: readonly SidecarRef[];
  samples: number;
  intervalMs: number;
  log: (line: string) => void;
}

/** `samples` readings `intervalMs` apart; per container, the mean of each figure. */
export async function sampleMemory(api: KubeApi, o: MemoryOptions): Promise<ContainerMemory[]> {
  const sums = new Map<SidecarRef, { n: number; ws: number; rss: number; procRss: number; procPss: number; processes: number }>();
  for (let i = 0; i < o.samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, o.intervalMs));
    const [kubelet, proc] = await Promise.all([summary(api, o.node), procMemory(o.sidecars.map((s) => s.id))]);
    let reported = 0;
    for (const s of o.sidecars) {
      const k = kubelet.get(`${s.ns}/${s.pod}/${s.container}`);
      const p = proc.get(s.id);
      if (!k || !p) continue;
      reported++;
      const a = sums.get(s) ?? { n: 0, ws: 0, rss: 0, procRss: 0, procPss: 0, processes: 0 };
      sums.set(s, { n: a.n + 1, ws: a.ws + k.workingSetBytes, rss: a.rss + k.rssBytes, procRss: a.procRss + p.rss, procPss: a.procPss + p.pss, processes: Math.max(a.processes, p.processes) });
    }
    o.log(`[bench] memory sample ${i + 1}/${o.samples}: ${reported} of ${o.sidecars.length} sidecars reported by both the kubelet and /proc`);
  }
  return [...sums.entries()].map(([s, a]) => ({
    ns: s.ns,
    pod: s.pod,
    container: s.container,
    workingSetBytes: a.ws / a.n,
    rssBytes: a.rss / a.n,
    procRssBytes: a.procRss / a.n,
    procPssBytes: a.procPss / a.n,
    processes: a.processes,
  }));
}
