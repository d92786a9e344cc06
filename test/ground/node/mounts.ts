// The node's private mount namespace (the re-exec runs us under `unshare
// --mount --propagation slave`): a tmpfs over /run, so containerd's shim
// sockets, runc's state and the pods' network-namespace files land there and
// not on the host; overlays over /var/lib and /var/log whose writable layer is
// in the stack's folder, for the paths that are compiled in (the kubelet's
// /var/lib/kubelet/device-plugins and /var/log/containers, the CNI library's
// /var/lib/cni cache); and plain files over the few kernel tunables the
// kubelet insists on, so it reads the values it wants instead of changing the host's.
// Nothing mounted here is visible outside, and it all vanishes with the
// namespace's last process.

import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What prepareMountNs mounted, in order: released in reverse at stop. */
const made: string[] = [];

async function mount(args: string[]): Promise<void> {
  try {
    await run('mount', args);
    made.push(args.at(-1)!);
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`mount ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`);
  }
}

/** True when this process's mount namespace differs from that of `hostPid` (a process on the host). */
export function privateMountNs(hostPid: number): boolean {
  try {
    return readlinkSync('/proc/self/ns/mnt') !== readlinkSync(`/proc/${hostPid}/ns/mnt`);
  } catch {
    return false;
  }
}

/**
 * The kubelet's kernel tunables (pkg/kubelet/cm: setupKernelTunables). With
 * protectKernelDefaults it only reads them and refuses to start on a mismatch,
 * instead of writing host-wide values; a file with the wanted value is mounted
 * over each one that differs here.
 */
const KUBELET_TUNABLES: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};

/** Hardcoded host paths the node writes below: each gets an overlay whose upper layer is ours. */
const OVERLAID = ['/var/lib', '/var/log'];

export async function prepareMountNs(dir: string): Promise<void> {
  await mount(['-t', 'tmpfs', '-o', 'mode=755,size=256m', 'vpa-node-run', '/run']);
  for (const target of OVERLAID) {
    const base = join(dir, 'overlay', target.slice(1).replace(/\//g, '-'));
    await rm(base, { recursive: true, force: true });
    await mkdir(join(base, 'upper'), { recursive: true });
    await mkdir(join(base, 'work'), { recursive: true });
    await mount(['-t', 'overlay', '-o', `lowerdir=${target},upperdir=${join(base, 'upper')},workdir=${join(base, 'work')}`, `vpa-node${target.replace(/\//g, '-')}`, target]);
  }
  const shadows = join(dir, 'sysctl');
  await mkdir(shadows, { recursive: true });
  for (const [key, want] of Object.entries(KUBELET_TUNABLES)) {
    const path = `/proc/sys/${key}`;
    if (readFileSync(path, 'utf8').trim() === want) continue;
    const file = join(shadows, key.replace(/\//g, '.'));
    await writeFile(file, want + '\n');
    await mount(['--bind', '-o', 'ro', file, path]).catch(() => mount(['--bind', file, path]));
  }
}

/** Unmounts what prepareMountNs made (the overlays' upper layers are in the stack's folder, which goes next). */
export async function releaseMountNs(): Promise<void> {
  for (const target of made.splice(0).reverse()) await run('umount', ['-l', target]).catch(() => undefined);
}

/** Mount points at or below `dir`, deepest first (from /proc/self/mountinfo). */
export function mountsBelow(dir: string): string[] {
  const points = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(dir + '/'));
  return [...new Set(points)].reverse();
}

/** Unmounts everything at or below `dir` (volumes of pods, container root filesystems). */
export async function unmountBelow(dir: string): Promise<string[]> {
  for (const p of mountsBelow(dir)) await run('umount', ['-l', p]).catch(() => undefined);
  return mountsBelow(dir);
}
