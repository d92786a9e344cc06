// containerd's own record of when each container's process started and
// exited (`ctr events`, nanosecond timestamps on the host's clock). The
// kubelet notices container changes on its 1 s relist, so Ready times come in
// whole seconds; these show what happens inside them: how long each init
// container ran, and when the app's process started.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface TaskTimes {
  /** wall-clock ms */
  start?: number;
  exit?: number;
}

export interface TaskWatch {
  /** container id → times */
  times: Map<string, TaskTimes>;
  stop(): void;
}

// containerd 1.6 prints `<time.Time> <namespace> <topic> <json>`, e.g.
// `2026-11-26 01:50:40.123456789 +0000 UTC k8s.io /tasks/start {"container_id":"…","pid":1}`
const LINE = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) ([+-]\d{4}) \S+ (\S+) (\/tasks\/(?:start|exit)) (\{.*\})$/;

function wallMs(date: string, time: string, offset: string): number {
  const [hms, frac = ''] = time.split('.');
  const ms = Date.parse(`${date}T${hms}${offset.slice(0, 3)}:${offset.slice(3)}`);
  return ms + Number(`0.${frac || '0'}`) * 1000;
}

export function watchTasks(containerdSocket: string, log: (line: string) => void): TaskWatch {
  const times = new Map<string, TaskTimes>();
  const child = spawn('ctr', ['--address', containerdSocket, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stopped = false;
  child.on('exit', (code) => {
    if (!stopped) log(`[bench] ctr events exited (${code}): no containerd timings for the rest of the run`);
  });
  child.on('error', (e) => log(`[bench] ctr events: ${e.message}`));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const m = LINE.exec(line);
    if (!m || m[4] !== 'k8s.io') return;
    const ev = JSON.parse(m[6]!) as { container_id?: string; id?: string };
    // An exec'd process's exit names its own id; the container's main process has the container's.
    if (!ev.container_id || (ev.id && ev.id !== ev.container_id)) return;
    const t = times.get(ev.container_id) ?? {};
    const at = wallMs(m[1]!, m[2]!, m[3]!);
    if (m[5] === '/tasks/start') t.start ??= at;
    else t.exit = at;
    times.set(ev.container_id, t);
  });
  return {
    times,
    stop() {
      stopped = true;
      child.kill();
    },
  };
}

export interface PodTimings {
  /** the injected init container's process, start → exit */
  initMs?: number;
  /** from the create request to the app container's process start */
  appStartMs?: number;
}

/** Reads a pod's container ids from its status and looks their tasks up. */
export function podTimings(pod: any, times: ReadonlyMap<string, TaskTimes>, t0Wall: number, initName: string | undefined): PodTimings {
  const byName = new Map<string, TaskTimes>();
  for (const s of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const t = s.containerID && times.get(String(s.containerID).replace(/^\w+:\/\//, ''));
    if (t) byName.set(s.name, t);
  }
  const init = initName ? byName.get(initName) : undefined;
  const app = byName.get('app');
  return {
    ...(init?.start !== undefined && init.exit !== undefined ? { initMs: init.exit - init.start } : {}),
    ...(app?.start !== undefined ? { appStartMs: app.start - t0Wall } : {}),
  };
}
