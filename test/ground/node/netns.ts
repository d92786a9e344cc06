// The node's network namespace: `ip netns add vpa-<owner pid>-<owner start
// time>`, with loopback up and the bridge vpa-br0 (10.88.0.1/16, the node's IP;
// also 10.96.0.1, the `kubernetes` Service's ClusterIP, since there is no
// kube-proxy). It has no interface to the host, so nothing in it can route out.
// The name says who made it, so a later start can tell a leftover of a killed
// run (owner gone) from a namespace in use.

import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync, statSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const NETNS_PREFIX = 'vpa-';
export const BRIDGE = 'vpa-br0';
export const NODE_IP = '10.88.0.1';
export const POD_SUBNET = '10.88.0.0/16';
export const KUBERNETES_SERVICE_IP = '10.96.0.1';

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Field 22 of /proc/PID/stat: start time in clock ticks since boot; with the pid it names one process for ever. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The name a namespace owned by `pid` gets. */
export function netnsName(pid = process.pid): string {
  const st = startTime(pid);
  if (!st) throw new Error(`cannot read /proc/${pid}/stat to name the node's network namespace`);
  return `${NETNS_PREFIX}${pid}-${Number(st).toString(36)}`;
}

/** True while the process that created namespace `name` runs. */
export function ownerAlive(name: string): boolean {
  const m = /^vpa-(\d+)-([0-9a-z]+)$/.exec(name);
  if (!m) return true; // not named by us: never treat as a leftover
  const st = startTime(Number(m[1]));
  return st !== undefined && Number(st).toString(36) === m[2];
}

/** Namespaces in /run/netns named like ours. */
export function ourNetnsNames(): string[] {
  try {
    return readdirSync('/run/netns').filter((n) => /^vpa-\d+-[0-9a-z]+$/.test(n));
  } catch {
    return [];
  }
}

/** The kernel's id of a namespace file (`net:[ID]` in /proc/PID/ns/net). */
export function netnsInode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Pids whose network namespace is `inode` (processes of ours, or pods with hostNetwork). */
export function pidsInNetns(inode: number): number[] {
  const pids: number[] = [];
  const want = `net:[${inode}]`;
  for (const e of readdirSync('/proc')) {
    const pid = Number(e);
    if (!pid || pid === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${pid}/ns/net`) === want) pids.push(pid);
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** True when this process runs in the namespace `name`. */
export function insideNetns(name: string): boolean {
  const ino = netnsInode(netnsPath(name));
  try {
    return ino !== undefined && readlinkSync('/proc/self/ns/net') === `net:[${ino}]`;
  } catch {
    return false;
  }
}

async function ip(args: string[]): Promise<void> {
  try {
    await run('ip', args);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/**
 * Creates the namespace and its addresses. 10.96.0.1 sits on the bridge as a
 * /32 (this kernel has no `dummy` link type): pods route to it through their
 * gateway 10.88.0.1 and the kube-apiserver, listening on 0.0.0.0:443, answers.
 */
export async function createNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  try {
    await ip(['-n', name, 'link', 'set', 'lo', 'up']);
    await ip(['-n', name, 'link', 'add', BRIDGE, 'type', 'bridge']);
    await ip(['-n', name, 'addr', 'add', `${NODE_IP}/16`, 'dev', BRIDGE]);
    await ip(['-n', name, 'addr', 'add', `${KUBERNETES_SERVICE_IP}/32`, 'dev', BRIDGE]);
    await ip(['-n', name, 'link', 'set', BRIDGE, 'up']);
  } catch (err) {
    await deleteNetns(name);
    throw err;
  }
}

export async function deleteNetns(name: string): Promise<void> {
  await run('ip', ['netns', 'del', name]).catch(() => undefined);
}
