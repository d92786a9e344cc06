// Two clusters of the test stack (a and b: two kube-apiservers, each with
// its own CA and service-account key) as the multi-cluster tests use them:
// kubectl per cluster, a reviewer token per cluster, the agent's real `init`.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ClusterInfo } from '../ground/stack/stack.ts';
import { stack, stackEnv } from '../ground/context.ts';
import { exec } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** The stack's clusters a and b; a clear failure when the stack was started with one. */
export function twoClusters(): [ClusterInfo, ClusterInfo] {
  const all = stack().clusters ?? [];
  if (all.length < 2) throw new Error('these tests need cluster b: the stack started with one kube-apiserver; unset VPA_STACK_CLUSTERS (default 2)');
  return [all[0]!, all[1]!];
}

export async function kubectlIn(cluster: ClusterInfo, args: string[]): Promise<string> {
  const { stdout } = await exec('kubectl', args, { env: { ...stackEnv(), KUBECONFIG: cluster.kubeconfig }, maxBuffer: 16 << 20 });
  return stdout;
}

const tolerateExisting = (e: { stderr?: string }) => {
  if (!/AlreadyExists|already exists/i.test(String(e.stderr ?? e))) throw e;
};

/** Namespace (with `labels`) and service account in one cluster. */
export async function workloadIdentity(cluster: ClusterInfo, ns: string, sa: string, labels: string[]): Promise<void> {
  await kubectlIn(cluster, ['create', 'namespace', ns]).catch(tolerateExisting);
  if (labels.length) await kubectlIn(cluster, ['label', '--overwrite', 'namespace', ns, ...labels]);
  await kubectlIn(cluster, ['-n', ns, 'create', 'serviceaccount', sa]).catch(tolerateExisting);
}

export async function tokenIn(cluster: ClusterInfo, ns: string, sa: string, audience = 'vault'): Promise<string> {
  return (await kubectlIn(cluster, ['-n', ns, 'create', 'token', sa, `--audience=${audience}`, '--duration=3600s'])).trim();
}

/** A TokenReview-capable service account of `cluster` and its token in `dir`/reviewer-<name>.jwt. */
export async function reviewerJwtFile(cluster: ClusterInfo, dir: string): Promise<string> {
  const ns = 'vault-reviewer';
  await workloadIdentity(cluster, ns, 'vault-auth', []);
  await kubectlIn(cluster, ['create', 'clusterrolebinding', 'vault-auth-delegator', '--clusterrole=system:auth-delegator', `--serviceaccount=${ns}:vault-auth`]).catch(tolerateExisting);
  const file = join(dir, `reviewer-${cluster.name}.jwt`);
  await writeFile(file, await tokenIn(cluster, ns, 'vault-auth', 'https://kubernetes.default.svc.cluster.local'), { mode: 0o600 });
  return file;
}

/** `vault-pki-agent init` (the real CLI, a child process) for ns/sa of `cluster`; returns the output folder. */
export async function agentInit(o: { cluster: ClusterInfo; ns: string; sa: string; dir: string; authMount: string; pkiMount: string; rootMount: string; tag?: string }): Promise<string> {
  const tokenFile = join(o.dir, `${o.cluster.name}-${o.sa}.jwt`);
  await writeFile(tokenFile, await tokenIn(o.cluster, o.ns, o.sa), { mode: 0o600 });
  // a folder of its own per call: init keeps a certificate that is still good
  const out = join(o.dir, `out-${o.cluster.name}${o.tag ?? ''}`);
  await mkdir(out, { recursive: true });
  const s = stack();
  const args = [MAIN, 'init', '--vault-addr', s.vaultAddr, '--vault-cacert', s.vaultCaFile, '--auth-mount', o.authMount, '--token-path', tokenFile,
    '--pki-mount', o.pkiMount, '--root-mount', o.rootMount, '--out-dir', out, '--ttl', '1h', '--log-level', 'warn'];
  await exec(process.execPath, args, { env: { ...stackEnv(), VAULT_TOKEN: '' } });
  return out;
}
