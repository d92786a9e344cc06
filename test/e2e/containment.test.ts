// The node leaves nothing behind: after Ctrl-C, and after a SIGKILL (its
// shims, containers and daemons survive that) once the next start has run.
// Runs on the host (project `containment`), where the host's view is: each
// test starts `scripts/stack.ts --node` itself, in a folder of its own.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hierarchies } from '../ground/node/cgroups.ts';
import { missingNodePackages } from '../ground/node/packages.ts';
import type { NodeInfo } from '../ground/node/node.ts';

const run = promisify(execFile);
const STACK_SCRIPT = resolve(import.meta.dirname, '..', '..', 'scripts', 'stack.ts');

interface Started {
  child: ChildProcess;
  dir: string;
  node: NodeInfo;
  output: () => string;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];

/** Starts a node stack in a new folder and process group; resolves once it says it is up. */
async function startNodeStack(): Promise<Started> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-containment-'));
  dirs.push(dir);
  const child = spawn(process.execPath, [STACK_SCRIPT, '--node'], { env: { ...process.env, VPA_STACK_DIR: dir }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  await new Promise<void>((ok, fail) => {
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes('The stack and the node are up')) ok();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => fail(new Error(`scripts/stack.ts --node exited ${code} before the node was up:\n${out.slice(-3000)}`)));
  });
  const node = JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')) as NodeInfo;
  return { child, dir, node, output: () => out };
}

/** kubectl through the stack's own shim (it enters the namespace). */
async function kubectl(s: Started, args: string[]): Promise<string> {
  const { stdout } = await run(join(s.dir, 'bin', 'kubectl'), args, { env: { ...process.env, KUBECONFIG: s.node.kubeconfig } });
  return stdout;
}

/** A pod that really runs on the node: a sandbox, a container, a projected-token mount. */
async function runPod(s: Started): Promise<void> {
  await kubectl(s, ['run', 'leftover-probe', `--image=${s.node.images.pause}`, '--image-pull-policy=Never', '--restart=Never']);
  await kubectl(s, ['wait', '--for=condition=Ready', 'pod/leftover-probe', '--timeout=120s']);
}

async function netnsList(): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
}

/** pgrep -f PATTERN: pids (pgrep exits 1 when none match). */
async function pgrep(pattern: string): Promise<number[]> {
  const { stdout } = await run('pgrep', ['-f', pattern]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').map(Number).filter(Boolean);
}

/** Processes whose mount table has a mount point in `dir` (the node's mounts live in its private namespace). */
function processesWithMountsIn(dir: string): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!Number(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/mountinfo`, 'utf8').includes(` ${dir}/`)) pids.push(Number(e));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Host paths the kubelet, containerd and the CNI library write to by default (compiled in, or unset flags). */
const HOST_DEFAULTS = ['/var/lib/kubelet', '/var/lib/cni', '/var/lib/containerd', '/var/log/containers', '/var/log/pods', '/usr/libexec/kubernetes', '/run/containerd/s'];

function cgroupDirsLeft(cgroupRoot: string): string[] {
  return hierarchies()
    .map((h) => join(h.dir, cgroupRoot))
    .filter((d) => existsSync(d));
}

/**
 * The runtime's own container list, read after the stack is gone: a throwaway
 * containerd on the stack's root, in fresh network and mount namespaces
 * (tmpfs /run) so it touches nothing of the host.
 */
async function containersInRuntimeRoot(dir: string): Promise<string> {
  const sock = join(dir, 'containerd', 'check.sock');
  const script = [
    'mount -t tmpfs vpa-check /run && ip link set lo up',
    `containerd --config ${join(dir, 'containerd', 'config.toml')} --address ${sock} --log-level error >/dev/null 2>&1 & pid=$!`,
    `for i in $(seq 100); do ctr --address ${sock} version >/dev/null 2>&1 && break; sleep 0.1; done`,
    `ctr --address ${sock} -n k8s.io containers ls -q; ctr --address ${sock} -n k8s.io tasks ls -q`,
    'kill $pid; wait $pid',
  ].join('\n');
  const { stdout } = await run('unshare', ['--net', '--mount', '--propagation', 'slave', 'sh', '-c', script]);
  return stdout.trim();
}

async function exitOf(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  return new Promise((ok) => child.on('exit', (code) => ok(code)));
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('containment: the node tests need root (network namespace, containerd, cgroups): run `npm test` as root');
  const missing = await missingNodePackages();
  if (missing.length) throw new Error(`containment: the node needs these Debian packages: apt-get install ${missing.join(' ')}`);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(-c.pid, 'SIGINT');
  for (const c of children) await exitOf(c);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('the node is contained', () => {
  it('leaves no container, mount, namespace, cgroup or process behind after Ctrl-C', async () => {
    const hostBefore = HOST_DEFAULTS.filter((p) => existsSync(p));
    const s = await startNodeStack();
    await runPod(s);
    // The premise, so the checks below can fail: the node really holds all of these now.
    expect(await netnsList()).toContain(s.node.netns);
    expect(processesWithMountsIn(s.dir).length).toBeGreaterThan(0);
    expect((await pgrep(`containerd-shim.*${s.node.containerdSocket}`)).length).toBeGreaterThan(0); // shims
    expect(cgroupDirsLeft(s.node.cgroupRoot).length).toBeGreaterThan(0);

    process.kill(-s.child.pid!, 'SIGINT'); // what Ctrl-C in its terminal sends
    expect(await exitOf(s.child)).toBe(0);

    expect(await netnsList()).not.toContain(s.node.netns);
    expect(await pgrep(s.dir)).toEqual([]);
    expect(processesWithMountsIn(s.dir)).toEqual([]);
    expect(cgroupDirsLeft(s.node.cgroupRoot)).toEqual([]);
    expect(await containersInRuntimeRoot(s.dir)).toBe('');
    expect(HOST_DEFAULTS.filter((p) => existsSync(p))).toEqual(hostBefore);
  });

  it('reaps what a SIGKILLed node stack left when the next one starts', async () => {
    const killed = await startNodeStack();
    await runPod(killed);
    process.kill(-killed.child.pid!, 'SIGKILL'); // the stack's processes only: its daemons, shims and pods live on
    await exitOf(killed.child);
    expect(await netnsList()).toContain(killed.node.netns);
    expect((await pgrep(killed.dir)).length).toBeGreaterThan(0);

    const next = await startNodeStack();
    expect(next.output()).toContain(`reaped ${killed.node.netns}`);
    expect(await netnsList()).not.toContain(killed.node.netns);
    expect(await pgrep(killed.dir)).toEqual([]);
    expect(processesWithMountsIn(killed.dir)).toEqual([]);
    expect(cgroupDirsLeft(killed.node.cgroupRoot)).toEqual([]);

    process.kill(-next.child.pid!, 'SIGINT');
    expect(await exitOf(next.child)).toBe(0);
    expect(await netnsList()).not.toContain(next.node.netns);
    expect(await pgrep(next.dir)).toEqual([]);
  });
});
