// Pod start latency: one pod at a time, the kinds taking turns in a rotating
// order so each sees the same node (the same pods already running, the same
// Vault). Timed on this process's clock, from just before the create request
// is sent (so admission, with its webhook call, counts) to the arrival of the
// first watch event whose Ready condition is True: millisecond resolution,
// where the Ready condition's lastTransitionTime has only seconds.
import { readFile } from 'node:fs/promises';
import type { KubeApi } from './api.ts';
import { benchPod, injectionProblem, KINDS, RUN_LABEL, type Kind } from './workloads.ts';

export interface StartSample {
  kind: Kind;
  ns: string;
  name: string;
  ms: number;
  /** of which the create request (admission, with the webhook call) */
  createMs: number;
  /** wall-clock ms of the create request (to line up containerd's timestamps) */
  t0Wall: number;
  /** filled in from containerd's events after the run (runtime-events.ts) */
  initMs?: number;
  appStartMs?: number;
  /** what each watch event showed, as `+ms state` (container states: r running, w waiting, t terminated, * ready) */
  timeline: string[];
  /** not counted: the first round warms the page cache, Vault and the webhooks */
  warmUp: boolean;
}

export interface StartOptions {
  namespaces: Record<Kind, string>;
  rounds: number;
  run: string;
  pauseImage: string;
  /** pause between one pod Ready and the next create, so each starts on a quiet node */
  gapMs: number;
  timeoutMs: number;
  log: (line: string) => void;
  /** the kubelet's log file, quoted when a pod never becomes Ready */
  kubeletLog?: string;
  /** log each pod's timeline of container states */
  trace?: boolean;
  signal?: AbortSignal;
}

/** Why a pod will never become Ready (a container that failed, an image the node lacks), or undefined. */
function stuck(pod: any): string | undefined {
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = s.state?.waiting?.reason;
    if (waiting && /BackOff|ErrImage|InvalidImageName|CreateContainer/.test(waiting)) return `${s.name}: ${waiting} ${s.state.waiting.message ?? ''}`.trim();
    const t = s.state?.terminated ?? s.lastState?.terminated;
    if (t && t.exitCode !== 0) return `${s.name} exited ${t.exitCode} (${t.reason ?? ''})`;
  }
  return undefined;
}

/** A short picture of a pod's containers: `vault-agent-init:t vault-agent:r* app:r*`. */
function picture(pod: any): string {
  const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
  const cs = statuses.map((c: any) => `${c.name}:${c.state?.running ? 'r' : c.state?.terminated ? 't' : 'w'}${c.ready ? '*' : ''}`);
  return [pod.status?.phase ?? 'new', pod.spec?.nodeName ? '' : 'unscheduled', ...cs].filter(Boolean).join(' ');
}

/** What the watch showed, what the pod looks like now, and its events: for the error of a pod that never became Ready. */
async function diagnose(api: KubeApi, ns: string, name: string, timeline: readonly string[], kubeletLog?: string): Promise<string> {
  const pod = await api.request('GET', `/api/v1/namespaces/${ns}/pods/${name}`).catch(() => undefined);
  const events = await api
    .request('GET', `/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent(`involvedObject.name=${name}`)}`)
    .then((l) => (l.items ?? []).map((e: any) => `  ${e.lastTimestamp ?? e.eventTime ?? ''} ${e.reason}: ${e.message}`).join('\n'))
    .catch(() => '  (could not read events)');
  return [
    `watch timeline:\n${timeline.map((t) => `  ${t}`).join('\n')}`,
    `now: ${pod ? picture(pod) : '(pod not found)'}; conditions ${JSON.stringify(pod?.status?.conditions ?? [])}`,
    `events:\n${events}`,
    ...(kubeletLog ? [`kubelet log lines naming it (${kubeletLog}):\n${await kubeletLines(kubeletLog, name)}`] : []),
  ].join('\n');
}

async function kubeletLines(file: string, podName: string): Promise<string> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.includes(podName))
    .slice(-25)
    .map((l) => `  ${l.slice(0, 400)}`)
    .join('\n');
}

const isReady = (pod: any): boolean => pod.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True') ?? false;

export async function measureStarts(api: KubeApi, o: StartOptions): Promise<StartSample[]> {
  const waiters = new Map<string, { resolve: (at: number) => void; reject: (e: Error) => void; t0: number; timeline: string[] }>();
  const key = (ns: string, name: string) => `${ns}/${name}`;
  let watchError: Error | undefined;
  const watch = api.watch(`/api/v1/pods?watch=1&timeoutSeconds=3600&labelSelector=${encodeURIComponent(`${RUN_LABEL}=${o.run}`)}`, (ev, at) => {
    const pod = ev.object;
    if (!pod?.metadata) return;
    const w = waiters.get(key(pod.metadata.namespace, pod.metadata.name));
    if (!w) return;
    const pic = picture(pod);
    if (!w.timeline.at(-1)?.endsWith(` ${pic}`)) w.timeline.push(`+${(at - w.t0).toFixed(0)} ${pic}`);
    if (isReady(pod)) w.resolve(at);
    else {
      const why = stuck(pod);
      if (why) w.reject(new Error(`pod ${pod.metadata.namespace}/${pod.metadata.name} will not become Ready: ${why}`));
    }
  });
  const fail = (e: Error) => {
    watchError ??= e;
    for (const w of waiters.values()) w.reject(e);
  };
  watch.closed.catch(fail);
  o.signal?.addEventListener('abort', () => fail(new Error('interrupted')), { once: true });

  const samples: StartSample[] = [];
  try {
    for (let round = 0; round < o.rounds + 1; round++) {
      const order = KINDS.map((_, i) => KINDS[(i + round) % KINDS.length]!);
      for (const kind of order) {
        if (watchError) throw watchError;
        const ns = o.namespaces[kind];
        const name = `${kind}-${round}`;
        const timeline: string[] = [];
        const t0 = performance.now();
        const ready = new Promise<number>((resolve, reject) => waiters.set(key(ns, name), { resolve, reject, t0, timeline }));
        ready.catch(() => undefined); // awaited below; a failure while the create is in flight must not go unhandled
        const timer = setTimeout(() => waiters.get(key(ns, name))?.reject(new Error(`pod ${ns}/${name} not Ready after ${o.timeoutMs / 1000}s`)), o.timeoutMs);
        try {
          const created = await api.request('POST', `/api/v1/namespaces/${ns}/pods`, benchPod({ kind, ns, name, run: o.run, pauseImage: o.pauseImage }));
          const createMs = performance.now() - t0;
          const problem = injectionProblem(kind, created);
          if (problem) throw new Error(problem);
          const ms = (await ready) - t0;
          samples.push({ kind, ns, name, ms, createMs, t0Wall: performance.timeOrigin + t0, timeline, warmUp: round === 0 });
          o.log(`[bench] ${round === 0 ? 'warm-up ' : ''}${ns}/${name}: Ready after ${ms.toFixed(0)} ms (create ${createMs.toFixed(0)} ms)`);
          if (o.trace) for (const t of timeline) o.log(`          ${t}`);
        } catch (err) {
          throw new Error(`${(err as Error).message}\n${await diagnose(api, ns, name, timeline, o.kubeletLog)}`);
        } finally {
          clearTimeout(timer);
          waiters.delete(key(ns, name));
        }
        await new Promise((r) => setTimeout(r, o.gapMs));
        o.signal?.throwIfAborted();
      }
    }
  } finally {
    watch.stop();
  }
  return samples;
}
