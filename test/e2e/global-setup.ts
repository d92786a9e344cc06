// vitest global setup of the `e2e` project: the stack with a kubelet node, in
// a folder of its own, stopped when the run ends (or on Ctrl-C, or when the
// host side that made the network namespace dies). `node scripts/test.ts`
// (what `npm test` runs) prepares the host and starts this project inside the
// node's namespaces; anything missing fails here with one line.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ENV_PREREQ_ERROR, nodeContext, watchLifeline } from '../ground/node/host.ts';
import type { NodeInfo } from '../ground/node/node.ts';
import { missingNodePackages } from '../ground/node/packages.ts';
import { stopAndReap } from '../ground/stack/teardown.ts';
import { startStack, type Stack } from '../ground/stack/stack.ts';
import { installChart } from './chart.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    node: NodeInfo;
  }
}

/** An error vitest prints as the one line it is. */
function oneLine(message: string): Error {
  const err = new Error(`e2e: ${message}`);
  err.stack = err.message;
  return err;
}

async function prerequisites(): Promise<NonNullable<ReturnType<typeof nodeContext>>> {
  if (process.env[ENV_PREREQ_ERROR]) throw oneLine(process.env[ENV_PREREQ_ERROR]!.split('\n')[0]!);
  if (process.getuid?.() !== 0) throw oneLine('the pod tests need root (network namespace, containerd, cgroups): run `npm test` as root');
  const missing = await missingNodePackages();
  if (missing.length) throw oneLine(`the pod tests need these Debian packages: apt-get install ${missing.join(' ')}`);
  const ctx = nodeContext();
  if (!ctx) throw oneLine('the e2e project runs inside the node\'s network namespace: start it with `node scripts/test.ts [filter]`, not vitest directly');
  return ctx;
}

let stack: Stack | undefined;
const runId = randomUUID();
process.env.VPA_TEST_RUN_ID = runId;

export async function setup(project: TestProject): Promise<void> {
  const ctx = await prerequisites();
  const dir = await mkdtemp(join(tmpdir(), 'vpa-e2e-'));
  stack = await startStack(dir, (line) => console.log(line), { node: ctx }).catch(async (err) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  project.provide('stack', stack.info);
  project.provide('node', stack.node!);
  // Every pod test needs the webhook: the chart is installed once, as an operator would.
  const n = stack.node!;
  await installChart(
    { helm: n.helm, kubectl: n.kubectl, kubeconfig: stack.info.kubeconfig, vaultToken: stack.info.vaultToken, vaultCaFile: n.vaultCaFile, podVaultAddr: n.podVaultAddr, image: n.images.agent },
    { log: (line) => console.log(line) },
  ).catch(async (err) => {
    await teardown();
    throw err;
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void teardown().finally(() => process.exit(130)));
  }
  watchLifeline(() => void teardown().finally(() => process.exit(130)));
}

export async function teardown(): Promise<void> {
  const s = stack;
  stack = undefined;
  await stopAndReap(s, runId);
}
