// Where the pod benchmark runs: inside the node's network namespace, on a
// node that is already up (`npm run stack -- --node` in another shell) or on
// one it starts itself and stops at the end. The host side finds out which,
// makes sure the images exist (building needs the registries, which only the
// host reaches), and runs this same script again inside the namespace.
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ensureImages, importImages, VAULT_IMAGE, VAULT_K8S_IMAGE, type ImageArchive } from '../../test/ground/images/index.ts';
import { prepareNodeHost, runInNodeNamespace } from '../../test/ground/node/host.ts';
import { netnsPath, ownerAlive } from '../../test/ground/node/netns.ts';
import type { NodeInfo } from '../../test/ground/node/node.ts';
import type { StackInfo } from '../../test/ground/stack/stack.ts';

const run = promisify(execFile);
type Log = (line: string) => void;

/** The folder `npm run stack` uses. */
export const STACK_DIR = resolve(import.meta.dirname, '..', '..', '.stack');

/** Set on the inner run: `own` (start a stack here) or the path of a running stack's node.json. */
export const ENV_INSIDE = 'VPA_BENCH_PODS_INSIDE';
const ENV_BENCH_IMAGES = 'VPA_BENCH_PODS_IMAGES';

export interface RunningNodeStack {
  stack: StackInfo;
  node: NodeInfo;
  nodeJson: string;
}

/** A node stack of `npm run stack -- --node` that is up now: its files exist and the process that owns its namespace lives. */
export function runningNodeStack(dir = STACK_DIR): RunningNodeStack | undefined {
  const nodeJson = join(dir, 'node.json');
  try {
    const node = JSON.parse(readFileSync(nodeJson, 'utf8')) as NodeInfo;
    const stack = JSON.parse(readFileSync(join(dir, 'stack.json'), 'utf8')) as StackInfo;
    if (!existsSync(netnsPath(node.netns)) || !ownerAlive(node.netns)) return undefined;
    return { stack, node, nodeJson };
  } catch {
    return undefined;
  }
}

function waitChild(child: ReturnType<typeof spawn>): Promise<number> {
  const forward = (sig: NodeJS.Signals) => () => child.kill(sig);
  const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((sig) => [sig, forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  return new Promise<number>((res) => {
    child.on('exit', (c, s) => res(c ?? (s ? 128 : 1)));
    child.on('error', () => res(1));
  }).finally(() => {
    for (const [sig, h] of handlers) process.off(sig, h);
  });
}

/** Host side: runs `script args` inside a node's network namespace, reusing a running node stack or starting one; resolves with its exit code. */
export async function runInsideNode(script: string, args: string[], log: Log): Promise<number> {
  if (process.getuid?.() !== 0) {
    log('bench:pods needs root (the node: network namespace, containerd, cgroups; images built with buildah): run it as root');
    return 1;
  }
  const running = runningNodeStack();
  if (running) {
    log(`[bench] reusing the running node stack in ${STACK_DIR} (netns ${running.node.netns}); it stays up afterwards`);
    const bench = (await ensureImages(log, { bench: true })).filter((a) => a.ref === VAULT_IMAGE || a.ref === VAULT_K8S_IMAGE);
    // nsenter --net only, as the brief's shells do: the repository and the stack's files are the host's.
    const child = spawn('nsenter', [`--net=${netnsPath(running.node.netns)}`, '--', process.execPath, script, ...args], {
      stdio: 'inherit',
      env: { ...process.env, [ENV_INSIDE]: running.nodeJson, VPA_STACK_JSON: join(STACK_DIR, 'stack.json'), [ENV_BENCH_IMAGES]: JSON.stringify(bench) },
    });
    return waitChild(child);
  }
  log('[bench] no node stack is running: starting one for this run (stopped at the end)');
  const images = await prepareNodeHost(log, { bench: true });
  return runInNodeNamespace(process.execPath, [script, ...args], { images, log, env: { [ENV_INSIDE]: 'own' } });
}

/** Inside, on a reused node: loads the bench images its containerd lacks (a node started without `bench` has neither). */
export async function importMissingBenchImages(node: NodeInfo, log: Log): Promise<void> {
  const archives = JSON.parse(process.env[ENV_BENCH_IMAGES] || '[]') as ImageArchive[];
  const { stdout } = await run('ctr', ['--address', node.containerdSocket, '--namespace', 'k8s.io', 'images', 'list', '--quiet']);
  const have = new Set(stdout.split('\n'));
  const missing = archives.filter((a) => !have.has(a.ref));
  if (missing.length) await importImages(node.containerdSocket, missing, log);
}
