// `vault-pki-agent webhook`: flags → WebhookOptions, then serve until SIGTERM.
// Every flag problem is a USAGE error (exit 2) raised before anything starts.

import { AgentError } from '../errors.ts';
import { createLogger, LOG_LEVELS } from '../log/log.ts';
import { flagHelp, parseFlags, type FlagTable } from './flags.ts';
import { DEFAULTS, type WebhookDefaults } from '../webhook/defaults.ts';
import type { TlsSource } from '../webhook/app.ts';
import { LISTEN_HINT, parseListen } from '../config/listen.ts';
import { describeUnknownKeys } from '../config/unknown-keys.ts';
import { vaultAddressProblem } from '../config/vault-address.ts';
import { hms, planForOutageText, type OutagePlan } from '../renewal/outage-budget.ts';
import { SERVER_DEFAULTS, type ConnectionLimits } from '../webhook/server.ts';

/** Upper bounds: longer timeouts would let silent sockets pile up again (and Node timers stop at 2^31-1 ms). */
const MAX_TIMEOUT_MS = 3_600_000;
const MAX_CONNECTIONS = 1_000_000;

/** Flag defaults, applied after the --config file (so a file value beats a default, a flag beats both). */
const FLAG_DEFAULTS: Record<string, string> = {
  listen: ':8443',
  'tls-hosts': 'localhost,127.0.0.1',
  'tls-cert-lifetime': '24h',
  'tls-ca-lifetime': '720h',
  'image-pull-policy': DEFAULTS.imagePullPolicy,
  'default-role': DEFAULTS.authRole,
  'native-sidecar': 'auto',
  'agent-log-level': DEFAULTS.logLevel,
  'log-level': 'info',
  'handshake-timeout': `${SERVER_DEFAULTS.handshakeTimeoutMs / 1000}s`,
  'idle-timeout': `${SERVER_DEFAULTS.idleTimeoutMs / 1000}s`,
  'max-connections': String(SERVER_DEFAULTS.maxConnections),
};

const STRING_FLAGS = [
  'listen',
  'tls-cert',
  'tls-key',
  'tls-hosts',
  'tls-cert-lifetime',
  'tls-ca-lifetime',
  'webhook-config-name',
  'kubeconfig',
  'image',
  'image-pull-policy',
  'vault-addr',
  'vault-cacert-configmap',
  'default-role',
  'native-sidecar',
  'agent-log-level',
  'outage-budget',
  'log-level',
  'handshake-timeout',
  'idle-timeout',
  'max-connections',
] as const;

const FLAGS: FlagTable = {
  listen: { value: 'HOST:PORT', help: 'where to serve HTTPS (POST /mutate, GET /healthz, GET /metrics); default :8443' },
  'tls-cert': { value: 'PATH', help: 'serving certificate file (with --tls-key); reloaded when it changes. Without both: automatic TLS' },
  'tls-key': { value: 'PATH', help: 'serving key file (with --tls-cert)' },
  'tls-hosts': { value: 'NAME,...', help: 'automatic TLS: comma-separated DNS names/IPs of the serving certificate (the Service DNS names)' },
  'tls-cert-lifetime': { value: 'DURATION', help: 'automatic TLS: serving certificate lifetime, renewed at 2/3; default 24h' },
  'tls-ca-lifetime': { value: 'DURATION', help: 'automatic TLS: lifetime of the in-memory CA whose certificate is published as caBundle; default 720h' },
  'webhook-config-name': { value: 'NAME', help: 'MutatingWebhookConfiguration whose caBundle automatic TLS keeps current (required for automatic TLS)' },
  kubeconfig: { value: 'PATH', help: 'kubeconfig file; default: in-cluster config or $KUBECONFIG' },
  image: { value: 'REGISTRY/NAME:TAG', help: 'image of the injected init container and sidecar (this image) — required' },
  'image-pull-policy': { value: 'Always|IfNotPresent|Never', help: 'pull policy of the injected containers; default IfNotPresent' },
  'vault-addr': { value: 'URL', help: 'Vault address the injected containers use (env VAULT_ADDR) — required; https://, or http:// on loopback' },
  'allow-insecure-http': { help: 'accept an http:// --vault-addr that is not loopback, and pass the same flag to the injected containers (tokens and keys travel in clear)' },
  'vault-cacert-configmap': { value: 'NAME[:KEY]', help: "ConfigMap in each pod's namespace with the CA of Vault's TLS certificate (key default ca.crt)" },
  'default-role': { value: 'ROLE', help: 'Vault Kubernetes-auth role when a pod has no vault-pki-agent.io/role; default mesh-workload' },
  'native-sidecar': { value: 'auto|true|false', help: 'auto: ask the apiserver (≥ 1.29); true: native sidecar; false: classic sidecar container' },
  'agent-log-level': { value: 'LEVEL', help: 'log level of the injected containers; default info' },
  'outage-budget': { value: 'DURATION', help: "longest Vault outage the workloads must ride out: the injected agents get the --ttl and --grace-ratio sized for it (docs/edge.md; the PKI role needs bootstrap's roles[].outageBudget too); default: the agent's 24h and 0.5" },
  'log-level': { value: 'LEVEL', help: `one of ${LOG_LEVELS.join(', ')}; default info` },
  'handshake-timeout': { value: 'DURATION', help: `a connection that has not finished its TLS handshake by then is closed (1s to 1h); default ${FLAG_DEFAULTS['handshake-timeout']}` },
  'idle-timeout': { value: 'DURATION', help: `a connection that sends nothing for this long (also between keep-alive requests) is closed (1s to 1h); default ${FLAG_DEFAULTS['idle-timeout']}` },
  'max-connections': { value: 'COUNT', help: `connections beyond this many are closed before the handshake (1 to ${MAX_CONNECTIONS}); default ${FLAG_DEFAULTS['max-connections']}` },
  config: { value: 'PATH', help: 'YAML file whose keys are these flag names (without --); flags given on the command line win' },
};

/** Reads `--config FILE`: a YAML map of flag names to values; unknown keys are a usage error. */
async function configFile(file: string): Promise<Record<string, string>> {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(await readFile(file, 'utf8'));
  } catch (err) {
    // The first line only: the rest of a YAML error quotes the file.
    throw new AgentError('CONFIG', `--config ${file}: cannot read it as YAML: ${briefly(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new AgentError('CONFIG', `--config ${file}: expected a map of flag names to values`);
  const out: Record<string, string> = {};
  const problems: string[] = [];
  const unknown = Object.keys(doc).filter((k) => !(STRING_FLAGS as readonly string[]).includes(k));
  if (unknown.length) problems.push(`${describeUnknownKeys(unknown)} (the keys are the flag names: ${STRING_FLAGS.join(', ')})`);
  for (const [k, v] of Object.entries(doc)) {
    if (unknown.includes(k)) continue;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') problems.push(`key ${k}: expected a single value`);
    else out[k] = String(v);
  }
  if (problems.length > 0) throw new AgentError('CONFIG', `--config ${file}: ${problems.join('; ')}`);
  return out;
}

/** "24h", "90m", "1h30m", "500ms" → milliseconds. */
export function parseDuration(flag: string, v: string): number {
  const m = /^(?:\d+(?:ms|h|m|s))+$/.test(v) ? [...v.matchAll(/(\d+)(ms|h|m|s)/g)] : [];
  const ms = m.reduce((t, [, n, u]) => t + Number(n) * (u === 'h' ? 3_600_000 : u === 'm' ? 60_000 : u === 's' ? 1000 : 1), 0);
  if (ms <= 0) throw new AgentError('USAGE', `--${flag} ${JSON.stringify(v)} is not a positive duration; write it like 24h, 90m or 30s`);
  return ms;
}

/**
 * --handshake-timeout, --idle-timeout and --max-connections (already merged
 * with their defaults) → the server's connection limits, or one problem per bad flag.
 */
export function parseConnectionLimits(get: (flag: string) => string): { limits: ConnectionLimits; problems: string[] } {
  const problems: string[] = [];
  const timeout = (flag: string): number => {
    try {
      const ms = parseDuration(flag, get(flag));
      if (ms >= 1000 && ms <= MAX_TIMEOUT_MS) return ms;
      problems.push(`--${flag} ${JSON.stringify(get(flag))} must be between 1s and 1h`);
    } catch (err) {
      problems.push((err as Error).message);
    }
    return 0;
  };
  const handshakeTimeoutMs = timeout('handshake-timeout');
  const idleTimeoutMs = timeout('idle-timeout');
  const raw = get('max-connections');
  const maxConnections = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : 0;
  if (maxConnections < 1 || maxConnections > MAX_CONNECTIONS) {
    problems.push(`--max-connections ${JSON.stringify(raw)} must be a whole number from 1 to ${MAX_CONNECTIONS}`);
  }
  return { limits: Object.freeze({ handshakeTimeoutMs, idleTimeoutMs, maxConnections }), problems };
}

/** An error's code, or the first line of its message, short: YAML errors quote the file, which may hold a token. */
function briefly(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  if (typeof e?.code === 'string') return e.code;
  return String(e?.message ?? err).split('\n')[0]!.slice(0, 160);
}

/** The serving certificate and key files: readable, and a pair TLS accepts. Checked before anything starts. */
async function servingFilesProblem(certFile: string, keyFile: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  const { createSecureContext } = await import('node:tls');
  const read = (flag: string, file: string) => readFile(file, 'utf8').catch((err) => Promise.reject(`${flag} ${file}: cannot read it (${briefly(err)})`));
  try {
    const [cert, key] = await Promise.all([read('--tls-cert', certFile), read('--tls-key', keyFile)]);
    createSecureContext({ cert, key });
    return undefined;
  } catch (err) {
    return typeof err === 'string' ? err : `--tls-cert ${certFile} / --tls-key ${keyFile}: not a certificate and matching key TLS can use (${briefly(err)})`;
  }
}

export async function webhookCommand(argv: string[]): Promise<number> {
  const { values: cli } = parseFlags('webhook', argv, FLAGS);
  if (cli.help) {
    process.stdout.write(flagHelp('webhook', 'Serve the pod-injection admission webhook (AdmissionReview v1).', FLAGS));
    return 0;
  }
  const fromFile = typeof cli.config === 'string' ? await configFile(cli.config) : {};
  const given = Object.fromEntries(Object.entries(cli).filter(([, val]) => typeof val === 'string')) as Record<string, string>;
  const v: Record<string, string> = { ...FLAG_DEFAULTS, ...fromFile, ...given };
  const str = (k: string): string | undefined => v[k];
  const problems: string[] = [];
  const image = str('image');
  if (!image) problems.push('--image is required: the image of the injected containers (this image)');
  const vaultAddr = str('vault-addr') ?? process.env.VAULT_ADDR;
  if (!vaultAddr) problems.push('--vault-addr (or env VAULT_ADDR) is required: the Vault address the injected containers use');
  const allowInsecureHttp = cli['allow-insecure-http'] === true;
  const addrProblem = vaultAddr ? vaultAddressProblem(vaultAddr, { flag: '--vault-addr', allowInsecureHttp }) : undefined;
  if (addrProblem) problems.push(addrProblem);
  const pull = str('image-pull-policy')!;
  if (!['Always', 'IfNotPresent', 'Never'].includes(pull)) problems.push(`--image-pull-policy ${JSON.stringify(pull)} must be Always, IfNotPresent or Never`);
  const native = str('native-sidecar')!;
  let edge: OutagePlan | undefined;
  if (str('outage-budget') !== undefined) {
    try {
      edge = planForOutageText(str('outage-budget')!, '--outage-budget');
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (!['auto', 'true', 'false'].includes(native)) problems.push(`--native-sidecar ${JSON.stringify(native)} must be auto, true or false`);
  for (const k of ['log-level', 'agent-log-level']) {
    if (!(LOG_LEVELS as readonly string[]).includes(str(k)!)) problems.push(`--${k} ${JSON.stringify(str(k))} must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const [cmName, cmKey] = (str('vault-cacert-configmap') ?? '').split(':');
  const certFile = str('tls-cert');
  const keyFile = str('tls-key');
  if (Boolean(certFile) !== Boolean(keyFile)) problems.push('--tls-cert and --tls-key go together; give both, or neither for automatic TLS');
  const configName = str('webhook-config-name');
  if (!certFile && !configName) problems.push('automatic TLS needs --webhook-config-name (the MutatingWebhookConfiguration whose caBundle it keeps current); or give --tls-cert and --tls-key');
  const listen = parseListen(str('listen')!);
  if (!listen) problems.push(`--listen ${JSON.stringify(str('listen'))}: not a listen address; ${LISTEN_HINT}`);
  let certLifetimeMs = 0;
  let caLifetimeMs = 0;
  for (const check of [
    () => (certLifetimeMs = parseDuration('tls-cert-lifetime', str('tls-cert-lifetime')!)),
    () => (caLifetimeMs = parseDuration('tls-ca-lifetime', str('tls-ca-lifetime')!)),
  ]) {
    try {
      check();
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  if (caLifetimeMs > 0 && caLifetimeMs < 3 * certLifetimeMs) problems.push('--tls-ca-lifetime must be at least three times --tls-cert-lifetime');
  const connections = parseConnectionLimits((k) => str(k)!);
  problems.push(...connections.problems);
  if (certFile && keyFile) {
    const problem = await servingFilesProblem(certFile, keyFile);
    if (problem) problems.push(problem);
  }
  if (problems.length > 0) throw new AgentError('USAGE', problems.join('; '));

  const log = createLogger({ name: 'vault-pki-agent-webhook', level: str('log-level') as never });
  const { kubeConfig, publishCaBundle, supportsNativeSidecars } = await import('../webhook/kube.ts');
  const { startWebhook } = await import('../webhook/app.ts');
  let kc: ReturnType<typeof kubeConfig> | undefined;
  try {
    kc = native === 'auto' || !certFile ? kubeConfig(str('kubeconfig')) : undefined;
  } catch (err) {
    throw new AgentError('CONFIG', `${str('kubeconfig') ? `--kubeconfig ${str('kubeconfig')}` : 'kubeconfig (in-cluster or $KUBECONFIG)'}: cannot load it (${briefly(err)}); point --kubeconfig at a valid kubeconfig file`);
  }
  let nativeSidecar = native === 'true';
  if (native === 'auto') {
    try {
      nativeSidecar = await supportsNativeSidecars(kc!);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read the Kubernetes version; injecting a classic sidecar (set --native-sidecar to decide)');
    }
  }
  const defaults: WebhookDefaults = Object.freeze({
    ...DEFAULTS,
    image: image!,
    imagePullPolicy: pull as WebhookDefaults['imagePullPolicy'],
    vaultAddr: vaultAddr!,
    ...(allowInsecureHttp && new URL(vaultAddr!).protocol === 'http:' ? { vaultInsecureHttp: true } : {}),
    ...(cmName ? { vaultCaConfigMap: { name: cmName, key: cmKey || 'ca.crt' } } : {}),
    authRole: str('default-role')!,
    nativeSidecar,
    logLevel: str('agent-log-level')!,
    ...(edge ? { ttl: hms(edge.ttlSeconds), graceRatio: edge.graceRatio } : {}),
  });
  const tls: TlsSource = certFile
    ? { kind: 'files', certFile, keyFile: keyFile! }
    : {
        kind: 'auto',
        hosts: str('tls-hosts')!.split(',').map((h) => h.trim()).filter(Boolean),
        certLifetimeMs,
        caLifetimeMs,
        publish: (pems) => publishCaBundle(kc!, configName!, pems),
      };
  const running = await startWebhook({ ...listen!, tls, defaults, log, connections: connections.limits }).catch((err: NodeJS.ErrnoException) => {
    if (err.syscall === 'listen' || err.code === 'EADDRINUSE') {
      throw new AgentError('CONFIG', `--listen ${str('listen')}: cannot listen (${err.code}); choose a free port or address`);
    }
    throw new AgentError('RUNTIME', `cannot start serving: ${briefly(err)}`);
  });
  await new Promise<void>((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve());
  });
  log.info('shutting down');
  await running.close();
  return 0;
}
