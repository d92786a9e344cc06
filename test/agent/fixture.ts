// A mesh PKI on the shared stack for one test file, under unique mount names:
// root and intermediate mounts, a role whose URI SAN is bound to the caller's
// service account by Vault, Kubernetes auth, a least-privilege policy, and a
// raw file audit device to count what the agent asked for.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { reviewer, saToken, serviceAccount, stack, uniqueName, vault as stackVault, vaultCaPem } from '../ground/context.ts';
import { vaultApi } from '../ground/stack/vault.ts';

const run = promisify(execFile);
// The sources, run by Node 24's type stripping like every other test's CLI: one
// way to run the program, and no build step a test could run against stale.
// (test/webhook/injected-init.test.ts runs dist/ on purpose: what the image runs.)
export const CLI = resolve(import.meta.dirname, '../../src/cli/main.ts');
/** The Node 24 that `npm install` brings (it strips types), whatever Node started vitest. */
const PINNED_NODE = resolve(import.meta.dirname, '../../node_modules/.bin/node');
export const NODE = existsSync(PINNED_NODE) ? PINNED_NODE : process.execPath;

export interface MeshPki {
  ns: string;
  sa: string;
  rootMount: string;
  pkiMount: string;
  pkiRole: string;
  authMount: string;
  authRole: string;
  auditFile: string;
  dir: string;
  tokenFile: string;
  spiffeId: string;
  /** the Vault this PKI lives in */
  addr: string;
}

/** A Vault other than the stack's dev server (a FileVault), as root. */
export interface VaultTarget {
  addr: string;
  token: string;
}

export async function meshPki(opts: { ttl?: string; maxTtl?: string; notBefore?: string; target?: VaultTarget } = {}): Promise<MeshPki> {
  const t = opts.target;
  const vault = <T = any>(method: string, path: string, body?: unknown, token?: string): Promise<T> =>
    t ? vaultApi<T>({ addr: t.addr, caPem: vaultCaPem() }, method, path, body, token ?? t.token) : stackVault<T>(method, path, body, token);
  const id = uniqueName('t').slice(2);
  const m: MeshPki = {
    ns: `agent-${id}`,
    sa: 'web',
    rootMount: `root-${id}`,
    pkiMount: `pki-${id}`,
    pkiRole: 'workload',
    authMount: `k8s-${id}`,
    authRole: 'mesh',
    dir: await mkdtemp(join(tmpdir(), 'vpa-agent-')),
    auditFile: '',
    tokenFile: '',
    spiffeId: '',
    addr: t?.addr ?? stack().vaultAddr,
  };
  m.auditFile = join(m.dir, 'audit.log');
  m.tokenFile = join(m.dir, 'token');
  m.spiffeId = `spiffe://cluster.local/ns/${m.ns}/sa/${m.sa}`;
  await serviceAccount(m.ns, m.sa);
  await vault('PUT', `sys/audit/audit-${id}`, { type: 'file', options: { file_path: m.auditFile, log_raw: 'true' } });

  await vault('POST', `sys/mounts/${m.rootMount}`, { type: 'pki', config: { max_lease_ttl: '87600h' } });
  const root = await vault('POST', `${m.rootMount}/root/generate/internal`, { common_name: `root ${id}`, ttl: '87600h', key_type: 'ec', key_bits: 256 });
  await vault('POST', `sys/mounts/${m.pkiMount}`, { type: 'pki', config: { max_lease_ttl: '43800h' } });
  const csr = await vault('POST', `${m.pkiMount}/intermediate/generate/internal`, { common_name: `intermediate ${id}`, key_type: 'ec', key_bits: 256 });
  const signed = await vault('POST', `${m.rootMount}/root/sign-intermediate`, { csr: csr.data.csr, ttl: '43800h', max_path_length: 0, format: 'pem' });
  await vault('POST', `${m.pkiMount}/intermediate/set-signed`, { certificate: `${signed.data.certificate}\n${root.data.certificate}` });

  const r = await reviewer();
  await vault('POST', `sys/auth/${m.authMount}`, { type: 'kubernetes' });
  await vault('POST', `auth/${m.authMount}/config`, { kubernetes_host: r.host, kubernetes_ca_cert: r.caPem, token_reviewer_jwt: r.jwt, disable_local_ca_jwt: true });
  const auth = await vault('GET', 'sys/auth');
  const accessor = auth.data[`${m.authMount}/`].accessor;
  const meta = (k: string) => `{{identity.entity.aliases.${accessor}.metadata.${k}}}`;
  await vault('POST', `${m.pkiMount}/roles/${m.pkiRole}`, {
    allowed_uri_sans: [`spiffe://cluster.local/ns/${meta('service_account_namespace')}/sa/${meta('service_account_name')}`],
    allowed_uri_sans_template: true,
    allowed_domains: [`${meta('service_account_namespace')}.svc`, `${meta('service_account_namespace')}.svc.cluster.local`],
    allowed_domains_template: true,
    allow_subdomains: true,
    allow_bare_domains: true,
    require_cn: false,
    use_csr_sans: false,
    use_csr_common_name: false,
    key_type: 'ec',
    key_bits: 256,
    ttl: opts.ttl ?? '24h',
    not_before_duration: opts.notBefore ?? '30s',
    max_ttl: opts.maxTtl ?? '72h',
    server_flag: true,
    client_flag: true,
  });
  const policy = `agent-${id}`;
  await vault('PUT', `sys/policies/acl/${policy}`, {
    policy: `path "${m.pkiMount}/issue/${m.pkiRole}" { capabilities = ["update"] }\npath "${m.pkiMount}/sign/${m.pkiRole}" { capabilities = ["update"] }\n`,
  });
  await vault('POST', `auth/${m.authMount}/role/${m.authRole}`, {
    bound_service_account_names: [m.sa],
    bound_service_account_namespaces: [m.ns],
    audience: 'vault',
    token_policies: [policy],
    token_no_default_policy: true,
    token_ttl: '1h',
  });
  await writeToken(m);
  return m;
}

export async function writeToken(m: MeshPki, sa = m.sa): Promise<string> {
  const jwt = await saToken(m.ns, sa);
  await writeFile(m.tokenFile, jwt, { mode: 0o600 });
  return jwt;
}

/** The flags an injected container would pass, pointed at this fixture. */
export function agentArgs(m: MeshPki, outDir: string, extra: string[] = []): string[] {
  return [
    `--vault-addr=${m.addr}`,
    `--vault-cacert=${stack().vaultCaFile}`,
    `--auth-mount=${m.authMount}`,
    `--auth-role=${m.authRole}`,
    `--token-path=${m.tokenFile}`,
    `--pki-mount=${m.pkiMount}`,
    `--pki-role=${m.pkiRole}`,
    `--root-mount=${m.rootMount}`,
    `--out-dir=${outDir}`,
    ...extra,
  ];
}

export const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(VAULT_|VAULT_PKI_AGENT_)/.test(k)) delete env[k];
  return env;
};

export async function runCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(NODE, [CLI, ...args], { env, timeout: 90_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

export function spawnCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): ChildProcess & { output: () => string } {
  const child = spawn(NODE, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  return Object.assign(child, { output: () => out });
}

/** Requests in the raw audit log on `path` (request entries only). */
export async function auditRequests(m: MeshPki, pathPrefix: string): Promise<any[]> {
  const text = await readFile(m.auditFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.type === 'request' && String(e.request?.path ?? '').startsWith(pathPrefix));
}
