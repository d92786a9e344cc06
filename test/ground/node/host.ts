// The host side of the node: what needs the registries (distribution
// packages, peers, images) happens here, then a network namespace is made and
// a command re-executed inside it — and inside a private mount namespace —
// through nsenter and unshare (not `ip netns exec`: it remounts /sys, which
// hides the cgroup v1 mounts the kubelet needs). When the command ends, for
// whatever reason, whatever it left is reaped and the namespace deleted.

import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { ensureImages, type ImageArchive } from '../images/index.ts';
import { ensurePeer } from '../peers/build.ts';
import type { PeerName } from '../peers/recipes.ts';
import { defaultPeers } from '../stack/peers.ts';
import { ensureNodePackages } from './packages.ts';
import { createNetns, netnsName, netnsPath } from './netns.ts';
import { reapDeadNodes, reapNode, summary } from './reap.ts';

type Log = (line: string) => void;

/** Environment the inner command reads. */
export const ENV_NETNS = 'VPA_NETNS';
export const ENV_IMAGES = 'VPA_NODE_IMAGES';
/** fd 3 of the inner command: closes when the host side dies, so the inside stops too. */
export const ENV_LIFELINE = 'VPA_NODE_LIFELINE_FD';
/** Set by scripts/test.ts when preparing the host failed: the e2e global setup fails with it. */
export const ENV_PREREQ_ERROR = 'VPA_NODE_PREREQ_ERROR';

export function nodePeers(): PeerName[] {
  return [...defaultPeers(), 'kubernetes-node', 'helm'];
}

export class NodeHostError extends Error {
  readonly code = 'NODE_HOST';
}

/** Packages, peers and images, built or installed when missing; then leftovers of killed runs reaped. */
export async function prepareNodeHost(log: Log, opts: { bench?: boolean } = {}): Promise<ImageArchive[]> {
  if (process.getuid?.() !== 0) {
    throw new NodeHostError('the test node needs root (network namespace, containerd, cgroups): run as root');
  }
  await ensureNodePackages(log);
  for (const peer of nodePeers()) await ensurePeer(peer, log);
  const images = await ensureImages(log, opts);
  await reapDeadNodes(log);
  return images;
}

/**
 * Runs `cmd args` in a new node namespace owned by this process and resolves
 * with its exit code once it ended and everything it left was reaped.
 */
export async function runInNodeNamespace(cmd: string, args: string[], o: { images: readonly ImageArchive[]; log: Log; env?: NodeJS.ProcessEnv }): Promise<number> {
  const name = netnsName();
  await createNetns(name);
  const child = spawn('nsenter', [`--net=${netnsPath(name)}`, '--', 'unshare', '--mount', '--propagation', 'slave', '--', cmd, ...args], {
    stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    env: { ...process.env, ...o.env, [ENV_NETNS]: name, [ENV_IMAGES]: JSON.stringify(o.images), [ENV_LIFELINE]: '3' },
  });
  // Ctrl-C reaches the child through the terminal; a signal sent to us alone is passed on.
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  const code = await new Promise<number>((resolve) => {
    child.on('exit', (c, s) => resolve(c ?? (s ? 128 : 1)));
    child.on('error', (err) => {
      o.log(`[node] could not start ${cmd} in ${name}: ${err.message}`);
      resolve(1);
    });
  });
  for (const [sig, h] of handlers) process.off(sig, h);
  const killed = await reapNode(name, o.log);
  if (killed.length) o.log(`[node] killed ${killed.length} process(es) left in ${name}: ${summary(killed)}`);
  return code;
}

/** Inside: what the host side passed (undefined when not started through runInNodeNamespace). */
export function nodeContext(): { netns: string; images: ImageArchive[] } | undefined {
  const netns = process.env[ENV_NETNS];
  if (!netns) return undefined;
  return { netns, images: JSON.parse(process.env[ENV_IMAGES] || '[]') as ImageArchive[] };
}

/** Inside: calls `onLost` once when the host side's process is gone (its end of fd 3 closed). */
export function watchLifeline(onLost: () => void): void {
  const fd = Number(process.env[ENV_LIFELINE]);
  if (!fd) return;
  delete process.env[ENV_LIFELINE]; // not for our children
  let fired = false;
  const sock = new Socket({ fd, readable: true, writable: false });
  const lost = () => {
    if (!fired) onLost();
    fired = true;
  };
  sock.on('end', lost);
  sock.on('close', lost);
  sock.on('error', lost);
  sock.resume();
  sock.unref();
}
