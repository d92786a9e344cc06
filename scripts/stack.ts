// `npm run stack`: start the local stack in .stack/ and keep it up until Ctrl-C.
// `npm run stack -- --node`: the same plus a kubelet node, all inside a network
// namespace of its own: this script prepares the host, then runs itself again
// inside the namespace (see test/ground/node/host.ts).
// `npm run stack -- --clusters 2`: a second kube-apiserver (cluster b), named in
// .stack/env as KUBECONFIG_B; KUBECONFIG stays cluster a.
import { resolve } from 'node:path';
import { nodeContext, prepareNodeHost, runInNodeNamespace, watchLifeline } from '../test/ground/node/host.ts';
import { CLUSTER_NAMES, startStack, type Stack } from '../test/ground/stack/stack.ts';

// VPA_STACK_DIR: another folder (the containment tests run stacks of their own beside a developer's).
const dir = resolve(process.env.VPA_STACK_DIR || resolve(import.meta.dirname, '..', '.stack'));
const wantNode = process.argv.includes('--node');
const clusters = clusterCount(process.argv);

function clusterCount(argv: string[]): number {
  const at = argv.findIndex((a) => a === '--clusters' || a.startsWith('--clusters='));
  if (at < 0) return 1;
  const text = argv[at]!.includes('=') ? argv[at]!.split('=')[1]! : argv[at + 1];
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > CLUSTER_NAMES.length) {
    console.error(`--clusters ${text ?? '(missing)'}: expected a whole number from 1 to ${CLUSTER_NAMES.length}`);
    process.exit(2);
  }
  return n;
}
const inside = nodeContext();

if (wantNode && !inside) {
  // Host side: packages, peers, images (the registries are here), then the namespace.
  const log = (l: string) => process.stderr.write(l + '\n');
  let code = 1;
  try {
    const images = await prepareNodeHost(log);
    code = await runInNodeNamespace(process.execPath, [import.meta.filename, '--node', `--clusters=${clusters}`], { images, log });
  } catch (err) {
    console.error(`stack failed to start: ${(err as Error).message}`);
  }
  process.exit(code);
}

let stack: Stack;
try {
  stack = await startStack(dir, undefined, { ...(inside && wantNode ? { node: inside } : {}), clusters });
} catch (err) {
  console.error(`stack failed to start: ${(err as Error).message}`);
  process.exit(1);
}
console.log(
  stack.node
    ? `\nThe stack and the node are up. In another shell:\n  source .stack/env && kubectl get nodes -o wide && kubectl get pods -A\nCtrl-C stops every process it started.`
    : `\nThe stack is up. In another shell:\n  source .stack/env && vault status && kubectl get ns\nCtrl-C stops every process it started.`,
);
let stopping = false;
const shutdown = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log('\n[stack] stopping …');
  await stack.stop();
  console.log('[stack] stopped');
  process.exit(0);
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => void shutdown());
watchLifeline(() => void shutdown());
setInterval(() => {}, 1 << 30);
