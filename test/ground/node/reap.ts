// Reaping a node: every process in its network namespace or its cgroups
// (containerd, shims, kubelet, the control plane, the pods), then its cgroup
// folders and the namespace. Used by stop (own node) and by a start that finds
// namespaces of killed runs (owner gone): a SIGKILLed stack leaves shims and
// containers running, and this is what removes them. Their mounts live in the
// node's private mount namespace, which the kernel drops with its last process.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hierarchies, nodeCgroupRoot, pidsInCgroupTree, removeCgroupTree } from './cgroups.ts';
import { deleteNetns, netnsInode, netnsPath, ourNetnsNames, ownerAlive, pidsInNetns } from './netns.ts';

type Log = (line: string) => void;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function parentOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return 0;
  }
}

/** This process and its ancestors: never killed, even when they run inside the namespace. */
function selfAndAncestors(): Set<number> {
  const keep = new Set<number>();
  for (let pid = process.pid; pid > 1 && !keep.has(pid); pid = parentOf(pid)) keep.add(pid);
  return keep;
}

/**
 * Node cgroup folders (`vpa-<pid>-<start>`) in any hierarchy, as paths
 * relative to the hierarchy: a killed run's own cgroup need not be ours.
 */
function nodeCgroupRoots(): { name: string; rel: string }[] {
  const found = new Map<string, { name: string; rel: string }>();
  const walk = (dir: string, rel: string, depth: number): void => {
    if (depth > 6) return;
    let entries;
    try {
      entries = readdirSync(join(dir, rel), { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (/^vpa-\d+-[0-9a-z]+$/.test(e.name)) found.set(join(rel, e.name), { name: e.name, rel: join(rel, e.name) });
      else walk(dir, join(rel, e.name), depth + 1);
    }
  };
  for (const h of hierarchies()) walk(h.dir, '/', 0);
  return [...found.values()];
}

function cgroupRootsNamed(name: string): string[] {
  const roots = new Set(nodeCgroupRoots().filter((r) => r.name === name).map((r) => r.rel));
  try {
    roots.add(nodeCgroupRoot(name));
  } catch {
    /* no memory hierarchy: nothing was made there */
  }
  return [...roots];
}

/** Pids of node `name` (by namespace and by cgroup), ours and our ancestors excluded. */
export function nodePids(name: string): number[] {
  const keep = selfAndAncestors();
  const ino = netnsInode(netnsPath(name));
  const pids = new Set([...(ino ? pidsInNetns(ino) : []), ...cgroupRootsNamed(name).flatMap(pidsInCgroupTree)]);
  return [...pids].filter((p) => !keep.has(p));
}

function comm(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '?';
  }
}

/**
 * Kills what runs in namespace `name` and its cgroups, removes the cgroups and
 * deletes the namespace. Returns the names of the processes it killed.
 */
export async function reapNode(name: string, log: Log): Promise<string[]> {
  const killed: string[] = [];
  // Rounds: a shim may start a process while we kill; stop when none is left.
  for (let round = 0; round < 20; round++) {
    let n = 0;
    for (const pid of nodePids(name)) {
      const what = comm(pid);
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(what);
        n++;
      } catch {
        /* gone meanwhile */
      }
    }
    if (n === 0) break;
    await sleep(100);
  }
  // A cgroup empties a moment after its last task dies: retry removal briefly.
  for (const rel of cgroupRootsNamed(name)) {
    let left = removeCgroupTree(rel);
    for (let i = 0; i < 30 && left.length; i++) {
      await sleep(100);
      left = removeCgroupTree(rel);
    }
    if (left.length) log(`[node] could not remove cgroup(s) ${left.join(', ')}`);
  }
  if (existsSync(netnsPath(name))) await deleteNetns(name);
  return killed;
}

/** `a (2), b` for a list of process names. */
export function summary(names: string[]): string {
  const counts = new Map<string, number>();
  for (const n of names) counts.set(n, (counts.get(n) ?? 0) + 1);
  return [...counts].map(([n, c]) => (c > 1 ? `${n} (${c})` : n)).join(', ');
}

/**
 * Reaps every node whose owner process is gone (what a killed run left): its
 * `vpa-*` namespace, or only its cgroup folders when the namespace is gone.
 */
export async function reapDeadNodes(log: Log): Promise<void> {
  const names = new Set([...ourNetnsNames(), ...nodeCgroupRoots().map((r) => r.name)]);
  for (const name of names) {
    if (ownerAlive(name)) continue;
    const killed = await reapNode(name, log);
    const what = killed.length ? `${killed.length} process(es) killed (${summary(killed)})` : 'no process left';
    log(`[node] reaped ${name}, left by a killed run: ${what}; its cgroups and namespace removed`);
  }
}
