// Pod benchmark on the real node: start latency (pod created → all containers
// Ready) of a plain pod, a pod injected by our chart's webhook and one
// injected by HashiCorp's vault-k8s with Vault Agent, side by side in one run
// on the same node and Vault; then the sidecars' memory as the kubelet
// reports it. Prints numbers; asserts nothing.
//
//   npm run bench:pods [-- --pods 10] [--settle 60] [--gap 1000] [--keep] [--trace]
//
// Runs as root from a host shell: it reuses a node stack that is up
// (`npm run stack -- --node`) or starts one and stops it afterwards, and runs
// itself again inside the node's network namespace (bench/pods/host.ts).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeContext, watchLifeline } from '../test/ground/node/host.ts';
import type { NodeInfo } from '../test/ground/node/node.ts';
import { startStack, type StackInfo } from '../test/ground/stack/stack.ts';
import { ENV_INSIDE, importMissingBenchImages, runInsideNode } from './pods/host.ts';
import { runPodBench, type RunOptions } from './pods/run.ts';

const log = (line: string) => process.stderr.write(line + '\n');

function options(): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        pods: { type: 'string', default: '10' },
        settle: { type: 'string', default: '60' },
        gap: { type: 'string', default: '1000' },
        keep: { type: 'boolean', default: false },
        trace: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    log(`bench:pods: ${(err as Error).message}; options: --pods N --settle SECONDS --gap MS --keep --trace`);
    process.exit(2);
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      log(`--${name} ${v}: not a whole number ≥ ${min}`);
      process.exit(2);
    }
    return n;
  };
  return { pods: int('pods', values.pods!, 1), settleSeconds: int('settle', values.settle!, 0), gapMs: int('gap', values.gap!, 0), keep: values.keep!, trace: values.trace!, log };
}

async function inside(mode: string, o: RunOptions): Promise<void> {
  let stack: StackInfo;
  let node: NodeInfo;
  let stop = async (): Promise<void> => undefined;
  if (mode === 'own') {
    const ctx = nodeContext();
    if (!ctx) throw new Error('bench:pods inner run started without the node namespace context: run `npm run bench:pods` from a host shell');
    const dir = await mkdtemp(join(tmpdir(), 'vpa-bench-pods-'));
    const s = await startStack(dir, log, { node: ctx });
    stop = async () => {
      await s.stop();
      await rm(dir, { recursive: true, force: true });
    };
    [stack, node] = [s.info, s.node!];
  } else {
    node = JSON.parse(await readFile(mode, 'utf8')) as NodeInfo;
    stack = JSON.parse(await readFile(process.env.VPA_STACK_JSON!, 'utf8')) as StackInfo;
    await importMissingBenchImages(node, log);
  }
  // Ctrl-C, or the host side gone: the run stops where it is, deletes what it made, and a stack it started stops.
  const ctl = new AbortController();
  const abort = () => {
    if (ctl.signal.aborted) return;
    log('[bench] interrupted: cleaning up');
    ctl.abort();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, abort);
  watchLifeline(abort);
  try {
    const lines = await runPodBench(stack, node, { ...o, signal: ctl.signal });
    console.log('\n' + lines.join('\n'));
  } finally {
    await stop();
  }
}

const o = options();
const mode = process.env[ENV_INSIDE];
if (mode) {
  try {
    await inside(mode, o);
  } catch (err) {
    log(`bench:pods failed: ${(err as Error).message}`);
    process.exit(1);
  }
} else {
  process.exit(await runInsideNode(import.meta.filename, process.argv.slice(2), log));
}
