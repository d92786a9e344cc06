// `run` steady-state RSS and CPU vs Vault Agent (same template, no
// exit_after_auth) and bare `node` as the floor, side by side over the same
// window; our `run` both as the image starts it (`--lite-mode`) and with the full JIT. Two phases: a short ttl (renewals happening) and a long one (idle:
// anything above ~0 CPU would be polling).
// Usage: npm run bench:run [-- SECONDS_PER_PHASE]

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stack } from '../test/ground/context.ts';
import { agentArgs, cleanEnv, meshPki } from '../test/agent/fixture.ts';
import { freePort } from '../test/ground/stack/process.ts';
import { CLK_TCK, median, procSample, vaultAgentConfig, withStack } from './lib.ts';

const seconds = Number(process.argv[2] ?? 180);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

interface Subject {
  name: string;
  child: ChildProcess;
}

type Row = Awaited<ReturnType<typeof measure>>[number];

async function measure(subjects: Subject[], windowS: number) {
  await new Promise((r) => setTimeout(r, 5_000)); // past start-up and the first issuance
  const start = await Promise.all(subjects.map((s) => procSample(s.child.pid!)));
  const rss: number[][] = subjects.map(() => []);
  const t0 = Date.now();
  while (Date.now() - t0 < windowS * 1000) {
    await new Promise((r) => setTimeout(r, 2_000));
    (await Promise.all(subjects.map((s) => procSample(s.child.pid!)))).forEach((x, i) => rss[i]!.push(x.rssKiB));
  }
  const end = await Promise.all(subjects.map((s) => procSample(s.child.pid!)));
  const elapsed = (Date.now() - t0) / 1000;
  return subjects.map((s, i) => ({
    name: s.name,
    rssMiB: median(rss[i]!) / 1024,
    maxRssMiB: Math.max(...rss[i]!) / 1024,
    cpuPercent: ((end[i]!.cpuTicks - start[i]!.cpuTicks) / CLK_TCK / elapsed) * 100,
  }));
}

async function phase(label: string, ttl: string, roleTtl: string) {
  const s = stack();
  const m = await meshPki({ ttl: roleTtl, maxTtl: '48h', notBefore: '1s' });
  const ours = await mkdtemp(join(tmpdir(), 'vpa-r-'));
  const oursLite = await mkdtemp(join(tmpdir(), 'vpa-r-'));
  const theirs = await mkdtemp(join(tmpdir(), 'vpa-r-'));
  const cfg = await vaultAgentConfig({ m, vaultAddr: s.vaultAddr, caFile: s.vaultCaFile, outDir: theirs, ttl, exitAfterAuth: false });
  const subjects: Subject[] = [
    { name: 'node (bare, idle)', child: spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' }) },
    { name: 'vault-pki-agent run', child: spawn(process.execPath, [CLI, 'run', ...agentArgs(m, ours, [`--ttl=${ttl}`, '--log-level=warn', `--listen=127.0.0.1:${await freePort()}`])], { env: cleanEnv(), stdio: 'ignore' }) },
    { name: 'run --lite-mode', child: spawn(process.execPath, ['--lite-mode', CLI, 'run', ...agentArgs(m, oursLite, [`--ttl=${ttl}`, '--log-level=warn', `--listen=127.0.0.1:${await freePort()}`])], { env: cleanEnv(), stdio: 'ignore' }) },
    { name: 'vault agent', child: spawn(s.vaultBin, ['agent', `-config=${cfg}`, '-log-level=warn'], { env: cleanEnv(), stdio: 'ignore' }) },
  ];
  try {
    const rows = await measure(subjects, seconds);
    console.log(`\n${label}: ttl ${ttl}, ${seconds}s window`);
    for (const r of rows) console.log(`  ${r.name.padEnd(22)} RSS median ${r.rssMiB.toFixed(1).padStart(6)} MiB (max ${r.maxRssMiB.toFixed(1)})   CPU ${r.cpuPercent.toFixed(2).padStart(6)} %`);
    const [node, us, lite, va] = rows as [Row, Row, Row, Row];
    console.log(`  ours − bare node: ${(us.rssMiB - node.rssMiB).toFixed(1)} MiB (lite mode ${(lite.rssMiB - node.rssMiB).toFixed(1)})`);
    console.log(`  ours / vault agent: ${(us.rssMiB / va.rssMiB).toFixed(2)} (lite mode ${(lite.rssMiB / va.rssMiB).toFixed(2)}); targets ≤ 0.5 and ≤ 96 MiB`);
  } finally {
    for (const x of subjects) x.child.kill('SIGTERM');
  }
}

await withStack(async () => {
  console.log(`Node ${process.version}, ${stack().peer} ${stack().vaultVersion}`);
  await phase('renewing', '20s', '20s');
  await phase('idle', '24h', '24h');
});
