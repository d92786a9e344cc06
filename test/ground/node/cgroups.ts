// The node's cgroups (cgroup v1, hybrid). The kubelet gets one cgroupRoot for
// every hierarchy: <the stack process's memory cgroup>/<netns name>, so pods
// count against the same memory limit as the rest of the run, and in the
// other hierarchies (where the process sits at `/`) it is below ours too.
// That path is made here in every hierarchy before the kubelet starts; these
// helpers also find what lives there, and remove it again, never a cgroup
// that holds a process.

import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

/** controller list → path, from /proc/PID/cgroup ('' is the unified v2 hierarchy's line `0::`). */
export function cgroupsOf(pid: number | 'self' = 'self'): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n')) {
    const [, controllers, path] = line.split(':', 3) as [string, string, string];
    map.set(controllers ?? '', path ?? '/');
  }
  return map;
}

/**
 * Mounted hierarchies: folder under /sys/fs/cgroup → the controller list as
 * /proc/PID/cgroup names it. The unified (v2) mount of a hybrid host is
 * listed too (controllers ''): runc also puts containers there.
 */
export function hierarchies(): { dir: string; controllers: string }[] {
  const out: { dir: string; controllers: string }[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const m = / (\/sys\/fs\/cgroup(?:\/[^ ]+)?) .* - (cgroup2?) \S+ (\S+)$/.exec(line);
    if (!m) continue;
    if (m[2] === 'cgroup2') {
      out.push({ dir: m[1]!, controllers: '' });
      continue;
    }
    const opts = m[3]!.split(',');
    const names = opts.filter((o) => !['rw', 'ro', 'relatime', 'noexec', 'nosuid', 'nodev', 'clone_children'].includes(o) && !o.startsWith('release_agent'));
    out.push({ dir: m[1]!, controllers: names.join(',') });
  }
  return out;
}

export class CgroupError extends Error {
  readonly code = 'NODE_CGROUP';
}

/** The kubelet's cgroupRoot for the node named `name`. */
export function nodeCgroupRoot(name: string): string {
  if (!existsSync(join(ROOT, 'memory'))) {
    throw new CgroupError(`no cgroup v1 memory hierarchy at ${ROOT}/memory: the test node is set up for cgroup v1 (hybrid) hosts`);
  }
  const own = cgroupsOf().get('memory');
  if (!own) throw new CgroupError('/proc/self/cgroup has no memory line: cannot place the node below this process');
  return join(own, name);
}

/**
 * Creates `rel` in every hierarchy (the kubelet requires its cgroupRoot to
 * exist in each). A new cpuset cgroup starts with no CPUs and no memory
 * nodes, so it gets its parent's.
 */
export function createCgroupRoot(rel: string): void {
  for (const h of hierarchies().filter((x) => x.controllers !== '')) {
    let path = h.dir;
    for (const part of rel.split('/').filter(Boolean)) {
      const parent = path;
      path = join(path, part);
      if (existsSync(path)) continue;
      mkdirSync(path);
      if (h.controllers.split(',').includes('cpuset')) {
        for (const f of ['cpuset.cpus', 'cpuset.mems']) writeFileSync(join(path, f), readFileSync(join(parent, f), 'utf8'));
      }
    }
  }
}

/** Every folder of the subtree at `rel` in every hierarchy, deepest first. */
function subtree(rel: string): string[] {
  const dirs: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory()) walk(join(d, e.name));
    dirs.push(d);
  };
  for (const h of hierarchies()) walk(join(h.dir, rel));
  return dirs;
}

/** Pids in the subtree at `rel` of any hierarchy (the pods' processes). */
export function pidsInCgroupTree(rel: string): number[] {
  const pids = new Set<number>();
  for (const d of subtree(rel)) {
    try {
      for (const p of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (Number(p)) pids.add(Number(p));
    } catch {
      /* removed meanwhile */
    }
  }
  return [...pids];
}

/**
 * Removes the subtree at `rel` (e.g. /process_api/<id>/vpa-…) in every
 * hierarchy, then the parents the kubelet made on the way in hierarchies where
 * they did not hold anything: an empty folder above the node that is not this
 * process's own cgroup or one of its ancestors there. rmdir fails on a cgroup
 * with tasks or children, so a cgroup in use is never removed.
 * Returns the folders that could not be removed.
 */
export function removeCgroupTree(rel: string): string[] {
  const left: string[] = [];
  for (const d of subtree(rel)) {
    try {
      rmdirSync(d);
    } catch {
      left.push(d);
    }
  }
  const own = cgroupsOf();
  for (const h of hierarchies()) {
    const mine = own.get(h.controllers) ?? '/';
    for (let p = join(rel, '..'); p !== '/' && p !== '.'; p = join(p, '..')) {
      if (mine === p || mine.startsWith(p + '/')) break; // ours, or above ours: never
      const dir = join(h.dir, p);
      if (!existsSync(dir)) continue;
      try {
        rmdirSync(dir);
      } catch {
        break; // holds something: it, and everything above, stays
      }
    }
  }
  return left;
}
