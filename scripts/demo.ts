// `npm run demo`: the main job on the local stack, as a new user would see it.
// Stack up → bootstrap Vault → a namespace and service account → its
// projected-style token → `init` → `run` with a short ttl, `inspect` after
// every rotation → Ctrl-C stops everything. Without a terminal it stops by
// itself after DEMO_ROTATIONS rotations (default 3).

import { execFile, spawn } from 'node:child_process';
import { watch } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startStack } from '../test/ground/stack/stack.ts';
import { demoPods } from './demo-pods.ts';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '..');
const CLI = join(root, 'dist/cli/main.js');
const dir = join(root, '.stack');
const demo = join(dir, 'demo');
const maxRotations = process.stdin.isTTY ? Infinity : Number(process.env.DEMO_ROTATIONS ?? 3);
const step = (n: number, text: string) => console.log(`\n[${n}/7] ${text}`);

// `npm run demo -- --pods`: the same story told by pods on the local node (scripts/demo-pods.ts).
if (process.argv.includes('--pods')) process.exit(await demoPods());

step(1, 'starting the local stack (Vault dev server, etcd, kube-apiserver) — the first run compiles them from Go source, ~15 min; then cached');
const stack = await startStack(dir, (l) => console.log(`      ${l}`));
const s = stack.info;
const env = { ...process.env, VAULT_ADDR: s.vaultAddr, VAULT_TOKEN: s.vaultToken, VAULT_CACERT: s.vaultCaFile, KUBECONFIG: s.kubeconfig, PATH: `${s.path.join(':')}:${process.env.PATH}` };
const kubectl = async (...args: string[]) => (await run('kubectl', args, { env })).stdout;
const children: ReturnType<typeof spawn>[] = [];
let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    for (const c of children) c.kill('SIGTERM');
    await stack.stop();
    console.log('\nstack stopped; nothing left running.');
  }
  process.exit(code);
}
process.on('SIGINT', () => void stop(0));
process.on('SIGTERM', () => void stop(0));

try {
  await rm(demo, { recursive: true, force: true }); // each demo starts from nothing
  await mkdir(demo, { recursive: true });
  step(2, 'a reviewer identity for Vault (TokenReview) and the bootstrap config');
  await kubectl('create', 'namespace', 'vault-system');
  // before bootstrap, so its closing verification has a namespace to log in from
  await kubectl('create', 'namespace', 'demo');
  await kubectl('-n', 'vault-system', 'create', 'serviceaccount', 'vault-reviewer');
  await kubectl('create', 'clusterrolebinding', 'vault-reviewer', '--clusterrole=system:auth-delegator', '--serviceaccount=vault-system:vault-reviewer');
  await writeFile(join(demo, 'reviewer.jwt'), (await kubectl('-n', 'vault-system', 'create', 'token', 'vault-reviewer', '--duration=24h')).trim(), { mode: 0o600 });
  await writeFile(join(demo, 'kube-ca.pem'), s.kubeCaPem);
  await writeFile(
    join(demo, 'bootstrap.yaml'),
    [
      'kubernetesAuth:',
      `  host: ${s.kubeUrl}`,
      `  caFile: ${join(demo, 'kube-ca.pem')}`,
      `  reviewerJwtFile: ${join(demo, 'reviewer.jwt')}`,
      '  role:',
      '    namespaces: [demo]',
      '',
    ].join('\n'),
  );

  step(3, 'vault-pki-agent bootstrap: root + intermediate CA, bound role, Kubernetes auth, least-privilege policy');
  const boot = await run(process.execPath, [CLI, 'bootstrap', `--config=${join(demo, 'bootstrap.yaml')}`, '--log-level=warn'], { env });
  process.stdout.write(boot.stdout.replace(/^/gm, '      '));

  step(4, 'service account "web" in namespace "demo", and its token (audience vault, as a projected volume holds it)');
  await kubectl('-n', 'demo', 'create', 'serviceaccount', 'web');
  const tokenFile = join(demo, 'token');
  await writeFile(tokenFile, (await kubectl('-n', 'demo', 'create', 'token', 'web', '--audience=vault', '--duration=1h')).trim(), { mode: 0o600 });

  const out = join(demo, 'workload-spiffe-credentials');
  const agentFlags = [`--token-path=${tokenFile}`, `--out-dir=${out}`, '--log-level=warn'];
  step(5, `vault-pki-agent init → ${out}`);
  await run(process.execPath, [CLI, 'init', ...agentFlags, '--ttl=30s'], { env });
  process.stdout.write((await run(process.execPath, [CLI, 'inspect', out], { env })).stdout.replace(/^/gm, '      '));

  step(6, `vault-pki-agent run --ttl=30s: renews at half the lifetime ± 1% (${Number.isFinite(maxRotations) ? `${maxRotations} rotations` : 'Ctrl-C to stop'})`);
  const agent = spawn(process.execPath, [CLI, 'run', ...agentFlags, '--ttl=30s', '--listen=127.0.0.1:0'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
  children.push(agent);
  let last = await readFile(join(out, 'cert-chain.pem'), 'utf8');
  let rotations = 0;
  await new Promise<void>((done) => {
    const watcher = watch(out, async () => {
      const now = await readFile(join(out, 'cert-chain.pem'), 'utf8').catch(() => last);
      if (now === last) return;
      last = now;
      rotations++;
      console.log(`\n      rotation ${rotations} at ${new Date().toISOString()}`);
      const r = await run(process.execPath, [CLI, 'inspect', out], { env }).catch((e) => e);
      process.stdout.write(String(r.stdout).replace(/^/gm, '      '));
      if (rotations >= maxRotations) {
        watcher.close();
        done();
      }
    });
  });
  step(7, 'done: stopping the agent and the stack');
  await stop(0);
} catch (err) {
  const e = err as { stderr?: string; message: string };
  console.error(`\ndemo failed: ${e.stderr?.trim() || e.message}`);
  await stop(1);
}
