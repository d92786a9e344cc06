// The two tables and the two target lines the pod benchmark prints. Pure:
// numbers in, lines out.
import { median } from '../lib.ts';
import type { ContainerMemory } from './memory.ts';
import type { StartSample } from './starts.ts';
import { INIT, KINDS, SIDECAR, type Kind } from './workloads.ts';

/** Nearest-rank percentile (p90 of 10 values is the 9th smallest). */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

const LABEL: Record<Kind, string> = {
  plain: 'plain pod (no injection)',
  ours: 'vault-pki-agent webhook (native sidecar, default)',
  'ours-regular': 'vault-pki-agent webhook (nativeSidecar=false)',
  'vault-k8s': 'vault-k8s v1.6.2 + Vault Agent',
};
const MiB = (b: number) => (b / 2 ** 20).toFixed(1);

function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}

export interface StartStats {
  median: number;
  p90: number;
  added: number;
}

type KindStats = StartStats & { n: number; min: number; max: number; create: number };

export function startStats(samples: readonly StartSample[]): Record<Kind, KindStats> {
  const counted = (k: Kind) => samples.filter((s) => s.kind === k && !s.warmUp);
  const plain = median(counted('plain').map((s) => s.ms));
  const out = {} as Record<Kind, KindStats>;
  for (const k of KINDS) {
    const xs = counted(k).map((s) => s.ms);
    const create = median(counted(k).map((s) => s.createMs));
    out[k] = { n: xs.length, median: median(xs), p90: percentile(xs, 90), min: Math.min(...xs), max: Math.max(...xs), added: median(xs) - plain, create };
  }
  return out;
}

export function startLines(samples: readonly StartSample[]): string[] {
  const st = startStats(samples);
  const rows = KINDS.map((k) => {
    const s = st[k];
    return [LABEL[k], String(s.n), s.median.toFixed(0), s.p90.toFixed(0), s.min.toFixed(0), s.max.toFixed(0), k === 'plain' ? '—' : `+${s.added.toFixed(0)}`, s.create.toFixed(0)];
  });
  return table(['pod created → all containers Ready', 'pods', 'median ms', 'p90 ms', 'min ms', 'max ms', 'added (median − plain)', 'create request ms (median)'], rows);
}

export function insideLines(samples: readonly StartSample[]): string[] {
  const rows = KINDS.map((k) => {
    const xs = samples.filter((s) => s.kind === k && !s.warmUp);
    const init = xs.map((s) => s.initMs).filter((v): v is number => v !== undefined);
    const app = xs.map((s) => s.appStartMs).filter((v): v is number => v !== undefined);
    const f = (v: number[]) => (v.length ? `${median(v).toFixed(0)} (${v.length})` : '—');
    return [LABEL[k], INIT[k] ?? '—', f(init), f(app)];
  });
  return table(['pods', 'init container', 'init process start → exit, median ms (pods)', 'create → app process start, median ms (pods)'], rows);
}

export interface SidecarStats {
  container: string;
  n: number;
  workingSet: number;
  workingSetMax: number;
  rss: number;
  procRss: number;
  procPss: number;
  processes: number;
  restarts: number;
}

export function memoryStats(mem: readonly ContainerMemory[], restarts: Record<Kind, number>, nsKind: Map<string, Kind>): Partial<Record<Kind, SidecarStats>> {
  const out: Partial<Record<Kind, SidecarStats>> = {};
  for (const k of KINDS) {
    const c = SIDECAR[k];
    if (!c) continue;
    const xs = mem.filter((m) => nsKind.get(m.ns) === k && m.container === c);
    out[k] = {
      container: c,
      n: xs.length,
      workingSet: median(xs.map((m) => m.workingSetBytes)),
      workingSetMax: Math.max(...xs.map((m) => m.workingSetBytes)),
      rss: median(xs.map((m) => m.rssBytes)),
      procRss: median(xs.map((m) => m.procRssBytes)),
      procPss: median(xs.map((m) => m.procPssBytes)),
      processes: Math.max(...xs.map((m) => m.processes)),
      restarts: restarts[k],
    };
  }
  return out;
}

export function memoryLines(stats: Partial<Record<Kind, SidecarStats>>): string[] {
  const rows = (['ours', 'ours-regular', 'vault-k8s'] as const).flatMap((k) => {
    const s = stats[k];
    return s && s.n ? [[`${s.container}${k === 'ours-regular' ? ' (nativeSidecar=false)' : ''}`, String(s.n), MiB(s.workingSet), MiB(s.workingSetMax), MiB(s.rss), MiB(s.procRss), MiB(s.procPss), String(s.processes), String(s.restarts)]] : [];
  });
  return table(
    ['sidecar', 'pods', 'working set MiB', 'max', 'cgroup RSS MiB', '/proc RSS MiB', '/proc PSS MiB', 'processes', 'restarts'],
    rows,
  );
}

export function targetLines(samples: readonly StartSample[], mem: Partial<Record<Kind, SidecarStats>>): string[] {
  const st = startStats(samples);
  const ours = st.ours.added;
  const theirs = st['vault-k8s'].added;
  const lines = [
    `Target: added start latency ours ≤ vault-k8s's — ours +${ours.toFixed(0)} ms vs +${theirs.toFixed(0)} ms: ${ours <= theirs ? 'MET' : 'NOT MET'} (ratio ${(ours / theirs).toFixed(2)})`,
  ];
  const o = mem.ours;
  const v = mem['vault-k8s'];
  if (o && v && o.n && v.n) {
    const ratio = o.workingSet / v.workingSet;
    lines.push(`Target: sidecar working set ours ≤ 0.5 × Vault Agent's — ${MiB(o.workingSet)} MiB vs ${MiB(v.workingSet)} MiB: ${ratio <= 0.5 ? 'MET' : 'NOT MET'} (ratio ${ratio.toFixed(2)})`);
    lines.push(`(not the target: /proc RSS ${MiB(o.procRss)} vs ${MiB(v.procRss)} MiB, ratio ${(o.procRss / v.procRss).toFixed(2)}; PSS ${MiB(o.procPss)} vs ${MiB(v.procPss)} MiB, ratio ${(o.procPss / v.procPss).toFixed(2)})`);
  } else {
    lines.push('Target: sidecar working set — not measured: the kubelet reported no memory for the sidecars (see the log above)');
  }
  return lines;
}
