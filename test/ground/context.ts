// What a test file uses to reach the shared stack: Vault as root, kubectl as
// admin, TokenRequest tokens, unique names so files never collide.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import type { StackInfo } from './stack/stack.ts';
import { vaultApi } from './stack/vault.ts';

const run = promisify(execFile);

let fromFile: StackInfo | undefined;

/** The running stack: vitest's provided context, or (bench, demo) the stack.json named by VPA_STACK_JSON. */
export function stack(): StackInfo {
  const file = process.env.VPA_STACK_JSON;
  if (file) return (fromFile ??= JSON.parse(readFileSync(file, 'utf8')) as StackInfo);
  return inject('stack');
}

/** A short lowercase name unique to this run, usable as a namespace, mount or role. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function vaultCaPem(): string {
  return readFileSync(stack().vaultCaFile, 'utf8');
}

/** Calls the stack's Vault with the root token (or `token`). */
export function vault<T = any>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const s = stack();
  return vaultApi<T>({ addr: s.vaultAddr, caPem: vaultCaPem() }, method, path, body, token ?? s.vaultToken);
}

/** Env for child processes that use the ordinary CLIs against the stack. */
export function stackEnv(): NodeJS.ProcessEnv {
  const s = stack();
  return {
    ...process.env,
    VAULT_ADDR: s.vaultAddr,
    VAULT_TOKEN: s.vaultToken,
    VAULT_CACERT: s.vaultCaFile,
    KUBECONFIG: s.kubeconfig,
    PATH: `${s.path.join(':')}:${process.env.PATH}`,
  };
}

export async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run('kubectl', args, { env: stackEnv(), maxBuffer: 16 << 20 });
  if (input !== undefined) {
    child.child.stdin?.end(input);
  }
  const { stdout } = await child;
  return stdout;
}

/** Creates namespace + service account (idempotent). */
export async function serviceAccount(ns: string, sa: string): Promise<void> {
  await kubectl(['create', 'namespace', ns]).catch((e) => {
    if (!/AlreadyExists|already exists/i.test(String(e.stderr ?? e))) throw e;
  });
  await kubectl(['-n', ns, 'create', 'serviceaccount', sa]).catch((e) => {
    if (!/AlreadyExists|already exists/i.test(String(e.stderr ?? e))) throw e;
  });
}

/** A TokenRequest token for `ns/sa` with audience `vault` (what a projected volume holds). */
export async function saToken(ns: string, sa: string, opts: { audience?: string; seconds?: number } = {}): Promise<string> {
  const out = await kubectl([
    '-n',
    ns,
    'create',
    'token',
    sa,
    `--audience=${opts.audience ?? 'vault'}`,
    `--duration=${opts.seconds ?? 3600}s`,
  ]);
  return out.trim();
}

/**
 * A service account Vault may use to call TokenReview, and its long-lived
 * token: what the Kubernetes auth method's `token_reviewer_jwt` needs.
 */
export async function reviewer(): Promise<{ jwt: string; host: string; caPem: string }> {
  const ns = 'vault-reviewer';
  await serviceAccount(ns, 'vault-auth');
  await kubectl(['create', 'clusterrolebinding', 'vault-auth-delegator', '--clusterrole=system:auth-delegator', `--serviceaccount=${ns}:vault-auth`]).catch(
    (e) => {
      if (!/AlreadyExists|already exists/i.test(String(e.stderr ?? e))) throw e;
    },
  );
  const jwt = await saToken(ns, 'vault-auth', { audience: 'https://kubernetes.default.svc.cluster.local', seconds: 86400 });
  return { jwt, host: stack().kubeUrl, caPem: stack().kubeCaPem };
}
