// What the bootstrap tests share: a config isolated by unique mount, auth
// and policy names; a run of the real plan/apply against a chosen Vault; a
// workload login through the real Kubernetes auth method.
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { validateConfig, type BootstrapConfig, type FileConfig } from '../../src/bootstrap/config.ts';
import { loadKube, type KubeApi } from '../../src/bootstrap/kube.ts';
import { runBootstrap, type RunResult } from '../../src/bootstrap/run.ts';
import { bootstrapVault } from '../../src/bootstrap/vault.ts';
import { createVaultClient, type VaultClient } from '../../src/vault/client.ts';
import { reviewer, stack, stackEnv, uniqueName, vaultCaPem } from '../ground/context.ts';
import { vaultApi } from '../ground/stack/vault.ts';

export const exec = promisify(execFile);

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');

/** `vault-pki-agent bootstrap ARGS` as an operator runs it, against the stack; a failed run is a result, not a throw. */
export async function bootstrapCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [MAIN, 'bootstrap', ...args], { env: { ...stackEnv(), ...env }, timeout: 170_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface Target {
  addr: string;
  token: string;
  caPem: string;
}

export function devVault(): Target {
  return { addr: stack().vaultAddr, token: stack().vaultToken, caPem: vaultCaPem() };
}

export interface Names {
  id: string;
  root: string;
  int: string;
  auth: string;
  policy: string;
  dir: string;
}

/** A config whose every Vault name is unique to this test, bound to `namespaces`. */
export async function isolatedConfig(namespaces: string[], extra: (n: Names) => Partial<FileConfig> = () => ({})): Promise<{ config: BootstrapConfig; names: Names }> {
  const id = uniqueName('t').slice(2);
  const dir = await mkdtemp(join(tmpdir(), 'vpa-bootstrap-'));
  const names: Names = { id, root: `pki-${id}`, int: `pki_istio-${id}`, auth: `k8s-${id}`, policy: `vpa-workload-${id}`, dir };
  const r = await reviewer();
  await writeFile(join(dir, 'kube-ca.pem'), r.caPem);
  await writeFile(join(dir, 'reviewer.jwt'), r.jwt, { mode: 0o600 });
  const more = extra(names);
  const config = validateConfig({
    root: { mount: names.root },
    intermediate: { mount: names.int },
    ...more,
    kubernetesAuth: {
      mount: names.auth,
      policy: names.policy,
      host: r.host,
      caFile: join(dir, 'kube-ca.pem'),
      reviewerJwtFile: join(dir, 'reviewer.jwt'),
      role: { namespaces },
      ...(more.kubernetesAuth ?? {}),
    },
  });
  return { config, names };
}

let kube: Promise<KubeApi> | undefined;
export function testKube(): Promise<KubeApi> {
  return (kube ??= loadKube(stack().kubeconfig));
}

export interface Run extends RunResult {
  lines: string[];
  writes: number;
}

/** Runs plan/apply in-process; `wrap` may intercept HTTP (to interrupt a run). */
export async function bootstrap(target: Target, config: BootstrapConfig, opts: { dryRun?: boolean; wrap?: (h: VaultClient) => VaultClient } = {}): Promise<Run> {
  let http = createVaultClient({ address: target.addr, caPem: target.caPem });
  if (opts.wrap) http = opts.wrap(http);
  const vault = bootstrapVault(http, target.token);
  const lines: string[] = [];
  const result = await runBootstrap({ config, vault, kube: testKube, dryRun: opts.dryRun ?? false, out: (l) => lines.push(l) });
  return { ...result, lines, writes: vault.writes };
}

export function planLines(lines: string[]): string[] {
  return lines.filter((l) => /^[+~=] /.test(l));
}

/** Logs `jwt` in through the bootstrapped Kubernetes auth mount; returns the Vault token. */
export async function workloadLogin(target: Target, mount: string, jwt: string, role = 'mesh-workload'): Promise<string> {
  const res = await vaultApi(target, 'POST', `auth/${mount}/login`, { role, jwt });
  return res.auth.client_token;
}

export function call<T = any>(target: Target, method: string, path: string, body?: unknown, token?: string): Promise<T> {
  return vaultApi<T>(target, method, path, body, token ?? target.token);
}

/** The HTTP status a call fails with (or 200). */
export async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

export async function openssl(args: string[], cwd: string): Promise<string> {
  const { stdout, stderr } = await exec('openssl', args, { cwd });
  return stdout + stderr;
}
