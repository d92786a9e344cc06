// `npm run stack`: start the local stack in .stack/ and keep it up until Ctrl-C.
import { resolve } from 'node:path';
import { startStack } from '../test/ground/stack/stack.ts';

const dir = resolve(import.meta.dirname, '..', '.stack');
let stack;
try {
  stack = await startStack(dir);
} catch (err) {
  console.error(`stack failed to start: ${(err as Error).message}`);
  process.exit(1);
}
console.log(`\nThe stack is up. In another shell:\n  source .stack/env && vault status && kubectl get ns\nCtrl-C stops every process it started.`);
let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    console.log('\n[stack] stopping …');
    await stack.stop();
    console.log('[stack] stopped');
    process.exit(0);
  });
}
setInterval(() => {}, 1 << 30);
