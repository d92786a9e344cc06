// init/run configuration: flags > environment > YAML file > defaults, checked
// in one pass that reports every problem at once, then frozen. The schema is
// a table, not a library: the sidecar should not pay zod's ~18 MiB for it.

import { existsSync, readFileSync } from 'node:fs';
import { AgentError } from '../errors.ts';
import type { FlagTable } from '../cli/flags.ts';
import { certificates } from '../certs/pem.ts';
import { parseDuration } from './duration.ts';
import { LISTEN_HINT, parseListen, type ListenAddress } from './listen.ts';
import { describeUnknownKeys } from './unknown-keys.ts';
import { vaultAddressProblem } from './vault-address.ts';


export const PROJECTED_TOKEN = '/var/run/secrets/vault-pki-agent/token';
export const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

type Kind = 'string' | 'list' | 'number' | 'duration' | 'bool';
interface Field {
  kind: Kind;
  /** the value name `--help` shows; none for an on/off switch (kind bool) */
  value?: string;
  help: string;
  default?: string | number | string[];
  env?: string;
  oneOf?: string[];
}

/** Every init/run setting; a YAML config file uses the same names as keys. */
export const FIELDS: Record<string, Field> = {
  'vault-addr': { kind: 'string', value: 'URL', env: 'VAULT_ADDR', help: 'Vault address, e.g. https://vault.vault.svc:8200' },
  'vault-cacert': { kind: 'string', value: 'PATH', env: 'VAULT_CACERT', help: "PEM file of the CA that signed Vault's certificate" },
  'allow-insecure-http': { kind: 'bool', help: 'accept an http:// Vault address that is not loopback (tokens and keys then travel in clear)' },
  'vault-namespace': { kind: 'string', value: 'NAMESPACE', env: 'VAULT_NAMESPACE', help: 'Vault Enterprise namespace' },
  'vault-timeout': { kind: 'duration', value: 'DURATION', default: '10s', help: 'per-request timeout; a slower Vault counts as down and is retried with backoff' },
  'auth-mount': { kind: 'string', value: 'MOUNT', default: 'kubernetes', help: 'Kubernetes auth mount path' },
  'auth-role': { kind: 'string', value: 'ROLE', default: 'mesh-workload', help: 'Kubernetes auth role' },
  'token-path': { kind: 'string', value: 'PATH', help: `service-account token file (default ${PROJECTED_TOKEN}, else ${SA_TOKEN})` },
  'pki-mount': { kind: 'string', value: 'MOUNT', default: 'pki_istio', help: 'PKI mount that issues workload certificates' },
  'pki-role': { kind: 'string', value: 'ROLE', default: 'istio-workload', help: 'PKI role' },
  'root-mount': { kind: 'string', value: 'MOUNT', default: 'pki', help: 'PKI mount whose issuers are all trusted roots (root-cert.pem); "" = roots from the issued chain only' },
  mode: { kind: 'string', value: 'issue|sign', default: 'issue', oneOf: ['issue', 'sign'], help: 'issue: Vault makes the key; sign: the key is made here, Vault sees a CSR' },
  'trust-domain': { kind: 'string', value: 'DOMAIN', default: 'cluster.local', help: 'SPIFFE trust domain' },
  'dns-san': { kind: 'list', value: 'DNS-NAME', default: [], help: 'DNS name to add (Vault limits them to the namespace)' },
  ttl: { kind: 'duration', value: 'DURATION', default: '24h', help: 'requested certificate lifetime (Vault may shorten it)' },
  'grace-ratio': { kind: 'number', value: 'RATIO', default: 0.5, help: 'renew when this share of the lifetime is left, in (0,1)' },
  jitter: { kind: 'number', value: 'RATIO', default: 0.01, help: 'random ± spread added to the grace ratio, in [0,1)' },
  layout: { kind: 'string', value: 'istio|spiffe|tls|DIR', default: 'istio', help: 'file set to write: a built-in layout or a folder of *.tmpl files' },
  'out-dir': { kind: 'string', value: 'DIR', default: '/var/run/secrets/workload-spiffe-credentials', help: 'folder the credential set is written to' },
  'key-group': { kind: 'number', value: 'GID', help: 'group id allowed to read the key (mode 0640)' },
  'on-rotate-signal': { kind: 'string', value: 'SIGNAL', help: 'signal sent after each rotation, e.g. SIGHUP (with --signal-pid-file or --signal-process)' },
  'signal-pid-file': { kind: 'string', value: 'PATH', help: 'file holding the pid to signal' },
  'signal-process': { kind: 'string', value: 'NAME', help: 'process name to signal (needs shareProcessNamespace)' },
  'on-rotate-exec': { kind: 'string', value: 'COMMAND', help: 'command run (by /bin/sh -c) after each rotation' },
  'on-rotate-timeout': { kind: 'duration', value: 'DURATION', default: '30s', help: '--on-rotate-exec is killed (and counted as failed) after this long; renewals never wait for it' },
  'bundle-refresh': { kind: 'duration', value: 'DURATION', default: '5m', help: "re-read the root mount's issuers this often (±10%), rewriting root-cert.pem and running the reload hook only when the roots changed (run only)" },
  listen: { kind: 'string', value: 'HOST:PORT', default: ':9102', help: 'metrics and health listener (run only)' },
  'log-level': { kind: 'string', value: 'LEVEL', default: 'info', oneOf: LOG_LEVELS, help: `one of ${LOG_LEVELS.join(', ')}` },
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
  logLevel: string;
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

async function readConfigFile(path: string, problems: string[]): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    problems.push(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    return {};
  }
  const { parse } = await import('yaml'); // only when a file is given
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    problems.push(`--config ${path}: not valid YAML (${(err as Error).message.split('\n')[0]})`);
    return {};
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push(`--config ${path}: must be a mapping of setting: value`);
    return {};
  }
  const unknown = Object.keys(doc).filter((key) => !FIELDS[key] || key === 'config');
  if (unknown.length) problems.push(`--config ${path}: ${describeUnknownKeys(unknown)} (known: ${Object.keys(FIELDS).filter((k) => k !== 'config').join(', ')})`);
  return doc as Record<string, unknown>;
}

export async function loadAgentConfig(flags: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<AgentConfig> {
  const problems: string[] = [];
  const configPath = (flags.config as string | undefined) ?? env[envName('config')];
  const file = configPath ? await readConfigFile(configPath, problems) : {};
  const raw = collect(flags, env, file);
  const str = (name: string): string | undefined => {
    const v = raw[name];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') {
      problems.push(`--${name}: expected a single value`);
      return undefined;
    }
    const s = String(v);
    const allowed = FIELDS[name]!.oneOf;
    if (allowed && !allowed.includes(s)) problems.push(`--${name} ${s}: must be one of ${allowed.join(', ')}`);
    return s;
  };
  const num = (name: string, ok: (n: number) => boolean, range: string): number | undefined => {
    const s = str(name);
    if (s === undefined) return undefined;
    const n = Number(s);
    if (s.trim() === '' || !Number.isFinite(n) || !ok(n)) {
      problems.push(`--${name} ${s}: must be a number ${range}`);
      return undefined;
    }
    return n;
  };

  const insecure = raw['allow-insecure-http'];
  if (insecure !== undefined && ![true, false, 'true', 'false', '1', '0'].includes(insecure as never)) problems.push('--allow-insecure-http: expected true or false');
  const address = str('vault-addr');
  if (!address) problems.push('no Vault address: set --vault-addr or VAULT_ADDR (e.g. https://vault.vault.svc:8200)');
  else {
    const problem = vaultAddressProblem(address, { flag: '--vault-addr', allowInsecureHttp: insecure === true || insecure === 'true' || insecure === '1' });
    if (problem) problems.push(problem);
  }
  const caFile = str('vault-cacert');
  let caPem: string | undefined;
  if (caFile) {
    try {
      caPem = readFileSync(caFile, 'utf8');
      // Parsed now: a broken CA would otherwise surface only at the first connection, as if Vault were down.
      let parsed = 0;
      try {
        parsed = certificates(caPem).length;
      } catch (err) {
        problems.push(`--vault-cacert ${caFile}: a certificate in it does not parse (${(err as NodeJS.ErrnoException).code ?? 'invalid'})`);
        parsed = -1;
      }
      if (parsed === 0) problems.push(`--vault-cacert ${caFile}: holds no PEM certificate`);
    } catch (err) {
      problems.push(`--vault-cacert ${caFile}: cannot read it (${(err as NodeJS.ErrnoException).code})`);
    }
  }
  const ttlText = str('ttl');
  const ttlSeconds = ttlText === undefined ? undefined : parseDuration(ttlText);
  if (ttlText !== undefined && (ttlSeconds === undefined || ttlSeconds < 1)) {
    problems.push(`--ttl ${ttlText}: must be a positive duration like 24h, 90m or 3600s`);
  }
  const timeoutText = str('vault-timeout')!;
  const timeoutSeconds = parseDuration(timeoutText);
  if (!timeoutSeconds) problems.push(`--vault-timeout ${timeoutText}: must be a positive duration like 10s`);
  const hookTimeoutText = str('on-rotate-timeout')!;
  const hookTimeoutSeconds = parseDuration(hookTimeoutText);
  if (!hookTimeoutSeconds || hookTimeoutSeconds > 86_400) problems.push(`--on-rotate-timeout ${hookTimeoutText}: must be a positive duration up to 24h, like 30s`);
  const refreshText = str('bundle-refresh')!;
  const refreshSeconds = parseDuration(refreshText);
  if (!refreshSeconds) problems.push(`--bundle-refresh ${refreshText}: must be a positive duration like 5m or 30s`);
  const graceRatio = num('grace-ratio', (n) => n > 0 && n < 1, 'strictly between 0 and 1, e.g. 0.5');
  const jitter = num('jitter', (n) => n >= 0 && n < 1, 'in [0, 1), e.g. 0.01');
  const keyGid = num('key-group', (n) => Number.isInteger(n) && n >= 0, 'that is a group id (integer ≥ 0)');
  const trustDomain = str('trust-domain')!;
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(trustDomain)) problems.push(`--trust-domain ${trustDomain}: must be a lowercase DNS-style name like cluster.local`);
  const dnsSans = (Array.isArray(raw['dns-san']) ? raw['dns-san'] : [raw['dns-san']]).filter((d) => d !== undefined && d !== '').map(String);
  for (const d of dnsSans) if (!/^(\*\.)?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(d)) problems.push(`--dns-san ${d}: not a DNS name`);
  const signal = str('on-rotate-signal');
  const normalSignal = signal ? (signal.toUpperCase().startsWith('SIG') ? signal.toUpperCase() : `SIG${signal.toUpperCase()}`) : undefined;
  if (normalSignal && !/^SIG(HUP|INT|QUIT|USR1|USR2|TERM|WINCH)$/.test(normalSignal)) problems.push(`--on-rotate-signal ${signal}: use one of SIGHUP, SIGUSR1, SIGUSR2, SIGINT, SIGQUIT, SIGTERM, SIGWINCH`);
  if (normalSignal && !str('signal-pid-file') && !str('signal-process')) problems.push(`--on-rotate-signal ${signal}: also set --signal-pid-file or --signal-process to say whom to signal`);
  let tokenPath = str('token-path');
  if (!tokenPath) tokenPath = existsSync(PROJECTED_TOKEN) || !existsSync(SA_TOKEN) ? PROJECTED_TOKEN : SA_TOKEN;
  const skip = env.VAULT_SKIP_VERIFY;
  const mode = str('mode');
  const logLevel = str('log-level')!;
  const listenText = str('listen')!;
  const listen = parseListen(listenText);
  if (!listen) problems.push(`--listen ${listenText}: not a listen address; ${LISTEN_HINT}`);

  if (problems.length) {
    throw new AgentError('CONFIG', problems.join('; '));
  }
  const rootMount = str('root-mount');
  return Object.freeze({
    vault: { address: address!, ...(caPem ? { caPem } : {}), ...(str('vault-namespace') ? { namespace: str('vault-namespace')! } : {}), skipVerify: skip === 'true' || skip === '1', timeoutMs: timeoutSeconds! * 1000 },
    auth: { mount: str('auth-mount')!, role: str('auth-role')!, tokenPath },
    pki: { mount: str('pki-mount')!, role: str('pki-role')!, mode: mode as 'issue' | 'sign', ...(rootMount ? { rootMount } : {}) },
    identity: { trustDomain, dnsSans },
    ttlSeconds: ttlSeconds!,
    renewal: { graceRatio: graceRatio!, jitter: jitter! },
    output: { layout: str('layout')!, outDir: str('out-dir')!, ...(keyGid !== undefined ? { keyGid } : {}) },
    reload: {
      ...(normalSignal ? { signal: normalSignal as NodeJS.Signals } : {}),
      ...(str('signal-pid-file') ? { pidFile: str('signal-pid-file')! } : {}),
      ...(str('signal-process') ? { processName: str('signal-process')! } : {}),
      ...(str('on-rotate-exec') ? { exec: str('on-rotate-exec')! } : {}),
      execTimeoutMs: hookTimeoutSeconds! * 1000,
    },
    bundleRefreshMs: refreshSeconds! * 1000,
    listen: listen!,
    logLevel,
  });
}
