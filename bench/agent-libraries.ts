// What each library of the design card costs a process: RSS after GC and the
// time of its first `import`, each measured in a fresh `node --expose-gc`
// against that process's own baseline. No stack needed.
// Usage: npm run bench:libraries [-- RUNS]

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { median } from './lib.ts';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 5);

/** Imports, in order, as one row; `reflect-metadata` must precede @peculiar/x509. */
const ROWS: [string, string[]][] = [
  ['node:https (TLS; any Vault client needs it)', ['node:https']],
  ['node-vault 0.12 (axios)', ['node-vault']],
  ['pino 10', ['pino']],
  ['chokidar 5', ['chokidar']],
  ['init/run path: node-vault + pino + chokidar', ['node-vault', 'pino', 'chokidar']],
  ['zod 4 (every command\'s config schema)', ['zod']],
  ['init/run path with zod', ['node-vault', 'pino', 'chokidar', 'zod']],
  ['@peculiar/x509 (sign mode only)', ['reflect-metadata', '@peculiar/x509']],
  ['@kubernetes/client-node (bootstrap, webhook)', ['@kubernetes/client-node']],
  ['yaml (--config only)', ['yaml']],
];

const PROBE = `
const rss = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().rss; };
const before = rss();
const t0 = performance.now();
for (const m of JSON.parse(process.argv[1])) await import(m);
const ms = performance.now() - t0;
console.log(JSON.stringify({ before, after: rss(), ms }));
`;

async function once(mods: string[]): Promise<{ before: number; after: number; ms: number }> {
  const { stdout } = await run(process.execPath, ['--expose-gc', '--input-type=module', '-e', PROBE, JSON.stringify(mods)], { cwd: new URL('..', import.meta.url).pathname });
  return JSON.parse(stdout);
}

const MiB = 1024 * 1024;
console.log(`Node ${process.version}; median of ${runs} fresh processes each; RSS after GC`);
console.log(`| import | RSS added | import time |\n|---|---|---|`);
let bare = 0;
for (const [label, mods] of ROWS) {
  const samples = [];
  for (let i = 0; i < runs; i++) samples.push(await once(mods));
  bare = median(samples.map((s) => s.before)) / MiB;
  const added = median(samples.map((s) => s.after - s.before)) / MiB;
  console.log(`| ${label} | +${added.toFixed(1)} MiB | ${median(samples.map((s) => s.ms)).toFixed(0)} ms |`);
}
console.log(`(bare node after GC: ${bare.toFixed(1)} MiB)`);
