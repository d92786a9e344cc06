// What every global setup does last: stop its stack, kill any peer process a
// test of this run left behind, and remove the stack's folder.
import { rm } from 'node:fs/promises';
import { reapRun } from './process.ts';
import type { Stack } from './stack.ts';

export async function stopAndReap(stack: Stack | undefined, runId: string): Promise<void> {
  await stack?.stop();
  const leftovers = reapRun(runId);
  if (leftovers.length) console.log(`[stack] killed ${leftovers.length} peer process(es) a test left behind: ${leftovers.join(', ')}`);
  if (stack) await rm(stack.info.dir, { recursive: true, force: true });
}
