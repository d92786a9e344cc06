// vitest global setup: the same stack `npm run stack` starts, in a folder of
// its own, stopped when the run ends (or on Ctrl-C) — no process left behind.
import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { stopAndReap } from './stack/teardown.ts';
import { startStack, type Stack, type StackInfo } from './stack/stack.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    stack: StackInfo;
  }
}

let stack: Stack | undefined;
// Inherited by the workers and every process they start: see reapRun.
const runId = randomUUID();
process.env.VPA_TEST_RUN_ID = runId;

export async function setup(project: TestProject): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vpa-stack-'));
  // Two clusters by default (test/bootstrap/clusters.test.ts): cluster b's
  // kube-apiserver starts beside Vault and measured ~3 s more here;
  // VPA_STACK_CLUSTERS=1 skips it.
  const clusters = Number(process.env.VPA_STACK_CLUSTERS || 2);
  stack = await startStack(dir, (line) => console.log(line), { clusters });
  console.log(`[stack] ${stack.info.peer} ${stack.info.vaultVersion}, kube-apiserver ${stack.info.kubeVersion}`);
  project.provide('stack', stack.info);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => void teardown().finally(() => process.exit(130)));
  }
}

export async function teardown(): Promise<void> {
  const s = stack;
  stack = undefined;
  await stopAndReap(s, runId);
}
