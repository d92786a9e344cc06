// Bootstrap timing against the local dev Vault: from empty (fresh mounts) and
// a no-op re-run, in-process and as the real CLI (a child process: Node start,
// imports, plan, apply). Prints numbers; asserts nothing.
//
//   node bench/bootstrap.ts [rounds]      (starts its own stack in a temp dir)
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { validateConfig } from '../src/bootstrap/config.ts';
import { loadKube } from '../src/bootstrap/kube.ts';
import { runBootstrap } from '../src/bootstrap/run.ts';
import { bootstrapVault } from '../src/bootstrap/vault.ts';
import { createVaultClient } from '../src/vault/client.ts';
import { startStack } from '../test/ground/stack/stack.ts';

const run = promisify(execFile);
const rounds = Number(process.argv[2] ?? 5);
const dir = await mkdtemp(join(tmpdir(), 'vpa-bench-bootstrap-'));
const stack = await startStack(dir, () => undefined);
const s = stack.info;
const env = { ...process.env, VAULT_ADDR: s.vaultAddr, VAULT_TOKEN: s.vaultToken, VAULT_CACERT: s.vaultCaFile, KUBECONFIG: s.kubeconfig };
const main = resolve(import.meta.dirname, '..', 'src', 'cli', 'main.ts');
await writeFile(join(dir, 'kube-ca.pem'), s.kubeCaPem);

function fileConfig(id: string) {
  return {
    root: { mount: `pki-b${id}` },
    intermediate: { mount: `pki_istio-b${id}` },
    kubernetesAuth: { mount: `k8s-b${id}`, policy: `vpa-b${id}`, host: s.kubeUrl, caFile: join(dir, 'kube-ca.pem'), role: { namespaces: ['bench'] } },
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)} (n=${xs.length})`;

try {
  const http = createVaultClient({ address: s.vaultAddr, caPem: (await import('node:fs')).readFileSync(s.vaultCaFile, 'utf8') });
  const vault = bootstrapVault(http, s.vaultToken);
  const kube = loadKube(s.kubeconfig);
  const inProcess = { empty: [] as number[], noop: [] as number[] };
  const cli = { empty: [] as number[], noop: [] as number[] };
  for (let i = 0; i < rounds; i++) {
    const config = validateConfig(fileConfig(`p${i}`));
    for (const kind of ['empty', 'noop'] as const) {
      const t0 = performance.now();
      await runBootstrap({ config, vault, kube: () => kube, out: () => undefined });
      inProcess[kind].push(performance.now() - t0);
    }
    const file = join(dir, `c${i}.yaml`);
    await writeFile(file, stringify(fileConfig(`c${i}`)));
    for (const kind of ['empty', 'noop'] as const) {
      const t0 = performance.now();
      await run(process.execPath, [main, 'bootstrap', '--config', file], { env });
      cli[kind].push(performance.now() - t0);
    }
  }
  console.log(`bootstrap against ${s.peer} ${s.vaultVersion} (dev server, TLS, loopback), Node ${process.version}`);
  console.log(`in-process, from empty : ${fmt(inProcess.empty)}`);
  console.log(`in-process, no-op      : ${fmt(inProcess.noop)}`);
  console.log(`CLI process, from empty: ${fmt(cli.empty)}`);
  console.log(`CLI process, no-op     : ${fmt(cli.noop)}`);
} finally {
  await stack.stop();
  await rm(dir, { recursive: true, force: true });
}
