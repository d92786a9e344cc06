// `init` time to files on disk vs Vault Agent (exit_after_auth + an
// equivalent pkiCert template), same Vault, same role, interleaved runs.
// Usage: npm run bench:init [-- RUNS]

import { spawn } from 'node:child_process';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stack } from '../test/ground/context.ts';
import { agentArgs, cleanEnv, meshPki } from '../test/agent/fixture.ts';
import { median, vaultAgentConfig, withStack } from './lib.ts';

const runs = Number(process.argv[2] ?? 10);
const CLI = resolve(import.meta.dirname, '../dist/cli/main.js');

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? res(performance.now() - t0) : rej(new Error(`${cmd} exited ${code}: ${err.slice(-800)}`))));
  });
}

await withStack(async () => {
  const s = stack();
  const m = await meshPki();
  const ours: number[] = [];
  const oursLite: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = await mkdtemp(join(tmpdir(), 'vpa-b-'));
    ours.push(await timed(process.execPath, [CLI, 'init', ...agentArgs(m, a, ['--log-level=warn'])], cleanEnv()));
    const c = await mkdtemp(join(tmpdir(), 'vpa-b-'));
    oursLite.push(await timed(process.execPath, ['--lite-mode', CLI, 'init', ...agentArgs(m, c, ['--log-level=warn'])], cleanEnv()));
    const b = await mkdtemp(join(tmpdir(), 'vpa-b-'));
    const cfg = await vaultAgentConfig({ m, vaultAddr: s.vaultAddr, caFile: s.vaultCaFile, outDir: b, ttl: '24h', exitAfterAuth: true });
    theirs.push(await timed(s.vaultBin, ['agent', `-config=${cfg}`, '-log-level=warn'], cleanEnv()));
    await stat(join(b, 'key.pem')); // Vault Agent really wrote both files
  }
  const row = (name: string, xs: number[]) => `${name.padEnd(44)} median ${median(xs).toFixed(0).padStart(5)} ms   min ${Math.min(...xs).toFixed(0).padStart(5)} ms   max ${Math.max(...xs).toFixed(0).padStart(5)} ms`;
  console.log(`init: time to cert + key on disk, ${runs} interleaved runs each, Node ${process.version}, ${s.peer} ${s.vaultVersion}`);
  console.log(row('vault-pki-agent init', ours));
  console.log(row('vault-pki-agent init (--lite-mode, as the image)', oursLite));
  console.log(row(`vault agent (exit_after_auth, pkiCert)`, theirs));
  console.log(`ratio ours/vault-agent: ${(median(ours) / median(theirs)).toFixed(2)} (lite mode ${(median(oursLite) / median(theirs)).toFixed(2)})`);
});
