// init/run configuration: flags > environment > YAML file > defaults, checked
// by one zod schema (agent-schema.ts) that reports every problem at once, then
// frozen. zod is the one schema library of every command; its cost on this
// path is measured in bench/README.md (`npm run bench:libraries`: +4.8 MiB
// RSS on the init/run path under the sidecar's `node --lite-mode`).

import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { FlagTable } from '../cli/flags.ts';
import { LOG_LEVELS, type LogLevel } from '../log/log.ts';
import { agentSchema } from './agent-schema.ts';
import { MESH_DEFAULTS } from './defaults.ts';
import { readConfigFile } from './file.ts';
import type { ListenAddress } from './listen.ts';
import { configError, deepFreeze, problemLines, settingsFile } from './schema.ts';
import { readVaultCa, skipTlsVerify } from './vault-address.ts';

export const PROJECTED_TOKEN = '/var/run/secrets/vault-pki-agent/token';
export const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

type Kind = 'string' | 'list' | 'number' | 'duration' | 'bool';
interface Field {
  kind: Kind;
  /** the value name `--help` shows; none for an on/off switch (kind bool) */
  value?: string;
  help: string;
  default?: string | number | string[];
  env?: string;
}

/** Every init/run setting; a YAML config file uses the same names as keys. */
export const FIELDS: Record<string, Field> = {
  'vault-addr': { kind: 'string', value: 'URL', env: 'VAULT_ADDR', help: 'Vault address, e.g. https://vault.vault.svc:8200' },
  'vault-cacert': { kind: 'string', value: 'PATH', env: 'VAULT_CACERT', help: "PEM file of the CA that signed Vault's certificate" },
  'allow-insecure-http': { kind: 'bool', help: 'accept an http:// Vault address that is not loopback (tokens and keys then travel in clear)' },
  'vault-namespace': { kind: 'string', value: 'NAMESPACE', env: 'VAULT_NAMESPACE', help: 'Vault Enterprise namespace' },
  'vault-timeout': { kind: 'duration', value: 'DURATION', default: '10s', help: 'per-request timeout, at most 1h; a slower Vault counts as down and is retried with backoff' },
  'auth-mount': { kind: 'string', value: 'MOUNT', default: MESH_DEFAULTS.authMount, help: 'Kubernetes auth mount path' },
  'auth-role': { kind: 'string', value: 'ROLE', default: MESH_DEFAULTS.authRole, help: 'Kubernetes auth role' },
  'token-path': { kind: 'string', value: 'PATH', help: `service-account token file (default ${PROJECTED_TOKEN}, else ${SA_TOKEN})` },
  'pki-mount': { kind: 'string', value: 'MOUNT', default: MESH_DEFAULTS.pkiMount, help: 'PKI mount that issues workload certificates' },
  'pki-role': { kind: 'string', value: 'ROLE', default: MESH_DEFAULTS.pkiRole, help: 'PKI role' },
  'root-mount': { kind: 'string', value: 'MOUNT', default: MESH_DEFAULTS.rootMount, help: 'PKI mount whose issuers are all trusted roots (root-cert.pem); "" = roots from the issued chain only' },
  mode: { kind: 'string', value: 'issue|sign', default: MESH_DEFAULTS.mode, help: 'issue: Vault makes the key; sign: the key is made here, Vault sees a CSR' },
  'trust-domain': { kind: 'string', value: 'DOMAIN', default: MESH_DEFAULTS.trustDomain, help: 'SPIFFE trust domain' },
  'dns-san': { kind: 'list', value: 'DNS-NAME', default: [], help: 'DNS name to add (Vault limits them to the namespace)' },
  ttl: { kind: 'duration', value: 'DURATION', default: MESH_DEFAULTS.ttl, help: 'requested certificate lifetime (Vault may shorten it)' },
  'grace-ratio': { kind: 'number', value: 'RATIO', default: 0.5, help: 'renew when this share of the lifetime is left, in (0,1)' },
  jitter: { kind: 'number', value: 'RATIO', default: 0.01, help: 'random ± spread added to the grace ratio, in [0,1)' },
  layout: { kind: 'string', value: 'istio|spiffe|tls|DIR', default: MESH_DEFAULTS.layout, help: 'file set to write: a built-in layout or a folder of *.tmpl files' },
  'out-dir': { kind: 'string', value: 'DIR', default: MESH_DEFAULTS.outDir, help: 'folder the credential set is written to' },
  'key-group': { kind: 'number', value: 'GID', help: 'group id allowed to read the key (mode 0640)' },
  'on-rotate-signal': { kind: 'string', value: 'SIGNAL', help: 'signal sent after each rotation, e.g. SIGHUP (with --signal-pid-file or --signal-process)' },
  'signal-pid-file': { kind: 'string', value: 'PATH', help: 'file holding the pid to signal' },
  'signal-process': { kind: 'string', value: 'NAME', help: 'process name to signal (needs shareProcessNamespace)' },
  'on-rotate-exec': { kind: 'string', value: 'COMMAND', help: 'command run (by /bin/sh -c) after each rotation' },
  'on-rotate-timeout': { kind: 'duration', value: 'DURATION', default: '30s', help: '--on-rotate-exec is killed (and counted as failed) after this long; renewals never wait for it' },
  'bundle-refresh': { kind: 'duration', value: 'DURATION', default: '5m', help: "re-read the root mount's issuers this often (±10%), rewriting root-cert.pem and running the reload hook only when the roots changed (run only)" },
  listen: { kind: 'string', value: 'HOST:PORT', default: `:${MESH_DEFAULTS.metricsPort}`, help: 'metrics and health listener (run only)' },
  'log-level': { kind: 'string', value: 'LEVEL', default: MESH_DEFAULTS.logLevel, help: `one of ${LOG_LEVELS.join(', ')}` },
  config: { kind: 'string', value: 'PATH', help: 'YAML file with any of these settings (keys are the flag names)' },
};

const envName = (name: string) => FIELDS[name]!.env ?? `VAULT_PKI_AGENT_${name.toUpperCase().replace(/-/g, '_')}`;

/** The flags of init and run, with default and environment variable in their help. */
export const AGENT_FLAGS: FlagTable = Object.fromEntries(
  Object.entries(FIELDS).map(([name, f]) => {
    const def = f.default !== undefined && f.default !== '' && !(Array.isArray(f.default) && f.default.length === 0) ? `default ${JSON.stringify(f.default)}; ` : '';
    return [name, { ...(f.value ? { value: f.value } : {}), multiple: f.kind === 'list', help: `${f.help} (${def}env ${envName(name)})` }];
  }),
);

export interface AgentConfig {
  vault: { address: string; caPem?: string; namespace?: string; skipVerify: boolean; timeoutMs: number };
  auth: { mount: string; role: string; tokenPath: string };
  pki: { mount: string; role: string; rootMount?: string; mode: 'issue' | 'sign' };
  identity: { trustDomain: string; dnsSans: string[] };
  ttlSeconds: number;
  renewal: { graceRatio: number; jitter: number };
  output: { layout: string; outDir: string; keyGid?: number };
  reload: { signal?: NodeJS.Signals; pidFile?: string; processName?: string; exec?: string; execTimeoutMs: number };
  /** how often `run` re-reads the trusted roots */
  bundleRefreshMs: number;
  listen: ListenAddress;
  logLevel: LogLevel;
}

/** Collects raw values per source precedence: flags, env, config file, defaults. */
function collect(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file: Record<string, unknown>): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(FIELDS)) {
    const fromEnv = env[envName(name)];
    raw[name] = flags[name] ?? (fromEnv !== undefined && fromEnv !== '' ? (f.kind === 'list' ? fromEnv.split(',') : fromEnv) : undefined) ?? file[name] ?? f.default;
  }
  return raw;
}

/** `--config FILE`: its keys must be setting names (never echoed when they are not: unknown-keys.ts). */
async function readFileSettings(path: string): Promise<Record<string, unknown>> {
  const doc = await readConfigFile(path);
  const names = Object.keys(FIELDS).filter((k) => k !== 'config');
  const keys = settingsFile(names, z.unknown()).safeParse(doc);
  if (!keys.success) throw configError(`--config ${path}`, problemLines(keys.error.issues, { label: () => '', knownKeys: `known: ${names.join(', ')}` }));
  return doc;
}

export async function loadAgentConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  const configPath = (flags.config as string | undefined) ?? env[envName('config')];
  const file = configPath ? await readFileSettings(configPath) : {};
  const raw = collect(flags, env, file);
  const parsed = agentSchema.safeParse(raw);
  const problems = parsed.success ? [] : problemLines(parsed.error.issues, { label: (path) => (path.length ? `--${String(path[0])}` : '') });
  // Read also when another setting failed: a broken CA file is reported with the rest.
  const caFile = parsed.data?.['vault-cacert'] ?? (typeof raw['vault-cacert'] === 'string' ? raw['vault-cacert'] : undefined);
  const ca = caFile ? readVaultCa(caFile, '--vault-cacert') : {};
  if (ca.problem) problems.push(ca.problem);
  if (!parsed.success || problems.length) throw configError('', problems);
  const c = parsed.data;
  const tokenPath = c['token-path'] ?? (existsSync(PROJECTED_TOKEN) || !existsSync(SA_TOKEN) ? PROJECTED_TOKEN : SA_TOKEN);
  return deepFreeze({
    vault: {
      address: c['vault-addr']!,
      ...(ca.caPem ? { caPem: ca.caPem } : {}),
      ...(c['vault-namespace'] ? { namespace: c['vault-namespace'] } : {}),
      skipVerify: skipTlsVerify(env),
      timeoutMs: c['vault-timeout'] * 1000,
    },
    auth: { mount: c['auth-mount'], role: c['auth-role'], tokenPath },
    pki: { mount: c['pki-mount'], role: c['pki-role'], mode: c.mode, ...(c['root-mount'] ? { rootMount: c['root-mount'] } : {}) },
    identity: { trustDomain: c['trust-domain'], dnsSans: c['dns-san'] },
    ttlSeconds: c.ttl,
    renewal: { graceRatio: c['grace-ratio'], jitter: c.jitter },
    output: { layout: c.layout, outDir: c['out-dir'], ...(c['key-group'] !== undefined ? { keyGid: c['key-group'] } : {}) },
    reload: {
      ...(c['on-rotate-signal'] ? { signal: c['on-rotate-signal'] } : {}),
      ...(c['signal-pid-file'] ? { pidFile: c['signal-pid-file'] } : {}),
      ...(c['signal-process'] ? { processName: c['signal-process'] } : {}),
      ...(c['on-rotate-exec'] ? { exec: c['on-rotate-exec'] } : {}),
      execTimeoutMs: c['on-rotate-timeout'] * 1000,
    },
    bundleRefreshMs: c['bundle-refresh'] * 1000,
    listen: c.listen,
    logLevel: c['log-level'],
  });
}
