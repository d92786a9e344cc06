// `webhook` configuration: flags > `--config` file > defaults, checked by one
// zod schema that reports every problem at once (one line, exit 2), then the
// runtime shape the command starts from. Each problem names its flag itself,
// with the value quoted, as the webhook always has.

import { readFile } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { briefly } from '../errors.ts';
import type { FlagTable } from '../cli/flags.ts';
import { LOG_LEVELS } from '../log/log.ts';
import { planForOutageText, type OutagePlan } from '../renewal/outage-budget.ts';
import { DEFAULTS } from '../webhook/defaults.ts';
import { SERVER_DEFAULTS, type ConnectionLimits } from '../webhook/server.ts';
import { readConfigFile } from './file.ts';
import { LISTEN_HINT } from './listen.ts';
import { addProblem, configError, duration, listenAddress, oneOf, optionalSingle, problemLines, settingsFile } from './schema.ts';
import { vaultAddressProblem } from './vault-address.ts';

/** Upper bounds: longer timeouts would let silent sockets pile up again (and Node timers stop at 2^31-1 ms). */
const MAX_TIMEOUT_SECONDS = 3600;
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

export const WEBHOOK_FLAGS: FlagTable = {
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

/** The flags a --config file may set: every one that takes a value. */
const SETTINGS = Object.keys(WEBHOOK_FLAGS).filter((k) => WEBHOOK_FLAGS[k]!.value && k !== 'config');

/** `--flag "value" <text>`: the webhook's problem lines name the flag and quote the value. */
const flag = (name: string, text: string) => (quoted: string) => `--${name} ${quoted} ${text}`;
const optional = optionalSingle;
const ms = (seconds: number) => seconds * 1000;
const lifetime = (name: string) => duration({ message: flag(name, 'is not a positive duration; write it like 24h, 90m or 30s') }).transform(ms);
const timeout = (name: string) => duration({ max: MAX_TIMEOUT_SECONDS, message: flag(name, 'must be a duration between 1s and 1h, like 30s') }).transform(ms);
const levels = (name: string) => oneOf(LOG_LEVELS, flag(name, `must be one of ${LOG_LEVELS.join(', ')}`));

const connectionShape = {
  'handshake-timeout': timeout('handshake-timeout'),
  'idle-timeout': timeout('idle-timeout'),
  'max-connections': z.string().transform((v, ctx) => {
    const n = /^[0-9]{1,7}$/.test(v) ? Number(v) : 0;
    return n >= 1 && n <= MAX_CONNECTIONS ? n : addProblem(ctx, v, flag('max-connections', `must be a whole number from 1 to ${MAX_CONNECTIONS}`));
  }),
};

const webhookSchema = z
  .object({
    listen: listenAddress((quoted) => `--listen ${quoted}: not a listen address; ${LISTEN_HINT}`),
    ...connectionShape,
    'tls-cert': optional,
    'tls-key': optional,
    'tls-hosts': z.string().transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean)),
    'tls-cert-lifetime': lifetime('tls-cert-lifetime'),
    'tls-ca-lifetime': lifetime('tls-ca-lifetime'),
    'webhook-config-name': optional,
    kubeconfig: optional,
    image: optional,
    'image-pull-policy': oneOf(['Always', 'IfNotPresent', 'Never'], flag('image-pull-policy', 'must be Always, IfNotPresent or Never')),
    'vault-addr': optional,
    'allow-insecure-http': z.boolean(),
    'vault-cacert-configmap': optional.transform((v) => {
      const [name, key] = (v ?? '').split(':');
      return name ? { name, key: key || 'ca.crt' } : undefined;
    }),
    'default-role': z.string(),
    'native-sidecar': oneOf(['auto', 'true', 'false'], flag('native-sidecar', 'must be auto, true or false')),
    'agent-log-level': levels('agent-log-level'),
    'log-level': levels('log-level'),
    'outage-budget': optional.transform((v, ctx): OutagePlan | undefined => {
      if (v === undefined) return undefined;
      try {
        return planForOutageText(v, '--outage-budget');
      } catch (err) {
        return addProblem(ctx, v, () => (err as Error).message);
      }
    }),
  })
  // `when`: also after a field failed, so these are reported with everything else
  .superRefine(
    async (c, ctx) => {
      const add = (message: string) => ctx.addIssue({ code: 'custom', path: [], message });
      if (!c.image) add('--image is required: the image of the injected containers (this image)');
      const address = c['vault-addr'];
      if (!address) add('--vault-addr (or env VAULT_ADDR) is required: the Vault address the injected containers use');
      const problem = address && vaultAddressProblem(address, { flag: '--vault-addr', allowInsecureHttp: c['allow-insecure-http'] });
      if (problem) add(problem);
      if (Boolean(c['tls-cert']) !== Boolean(c['tls-key'])) add('--tls-cert and --tls-key go together; give both, or neither for automatic TLS');
      if (!c['tls-cert'] && !c['webhook-config-name'])
        add('automatic TLS needs --webhook-config-name (the MutatingWebhookConfiguration whose caBundle it keeps current); or give --tls-cert and --tls-key');
      const [cert, ca] = [c['tls-cert-lifetime'], c['tls-ca-lifetime']];
      if (typeof cert === 'number' && typeof ca === 'number' && ca < 3 * cert) add('--tls-ca-lifetime must be at least three times --tls-cert-lifetime');
      const files = c['tls-cert'] && c['tls-key'] ? await servingFilesProblem(c['tls-cert'], c['tls-key']) : undefined;
      if (files) add(files);
    },
    { when: () => true },
  );

/** The serving certificate and key files: readable, and a pair TLS accepts. Checked before anything starts. */
async function servingFilesProblem(certFile: string, keyFile: string): Promise<string | undefined> {
  const read = (flag: string, file: string) => readFile(file, 'utf8').catch((err) => Promise.reject(`${flag} ${file}: cannot read it (${briefly(err)})`));
  try {
    const [cert, key] = await Promise.all([read('--tls-cert', certFile), read('--tls-key', keyFile)]);
    createSecureContext({ cert, key });
    return undefined;
  } catch (err) {
    return typeof err === 'string' ? err : `--tls-cert ${certFile} / --tls-key ${keyFile}: not a certificate and matching key TLS can use (${briefly(err)})`;
  }
}

export type WebhookSettings = z.output<typeof webhookSchema>;

const lines = (issues: readonly z.core.$ZodIssue[]) => problemLines(issues, { label: () => '' });

/**
 * --handshake-timeout, --idle-timeout and --max-connections (already merged
 * with their defaults) → the server's connection limits, or one problem per bad flag.
 */
export function parseConnectionLimits(get: (flag: string) => string): { limits: ConnectionLimits; problems: string[] } {
  const r = z.object(connectionShape).safeParse(Object.fromEntries(Object.keys(connectionShape).map((k) => [k, get(k)])));
  if (!r.success) return { limits: Object.freeze({ handshakeTimeoutMs: 0, idleTimeoutMs: 0, maxConnections: 0 }), problems: lines(r.error.issues) };
  return { limits: Object.freeze({ handshakeTimeoutMs: r.data['handshake-timeout'], idleTimeoutMs: r.data['idle-timeout'], maxConnections: r.data['max-connections'] }), problems: [] };
}

/** A `--config` value: one scalar, read as the command line would give it. */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'expected a single value' }).transform(String);

async function fileSettings(file: string): Promise<Record<string, string>> {
  const result = settingsFile(SETTINGS, scalar).safeParse(await readConfigFile(file));
  if (!result.success) {
    throw configError(`--config ${file}`, problemLines(result.error.issues, { label: (path) => (path.length ? `key ${path.join('.')}` : ''), knownKeys: `the keys are the flag names: ${SETTINGS.join(', ')}` }));
  }
  return Object.fromEntries(Object.entries(result.data).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Flags (as parsed) > `--config` file > defaults, validated; every problem in one CONFIG error. */
export async function loadWebhookConfig(cli: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<WebhookSettings> {
  const fromFile = typeof cli.config === 'string' ? await fileSettings(cli.config) : {};
  const given = Object.fromEntries(Object.entries(cli).filter(([, v]) => typeof v === 'string')) as Record<string, string>;
  const merged: Record<string, unknown> = { ...FLAG_DEFAULTS, ...fromFile, ...given, 'allow-insecure-http': cli['allow-insecure-http'] === true };
  merged['vault-addr'] ??= env.VAULT_ADDR;
  const r = await webhookSchema.safeParseAsync(merged);
  if (!r.success) throw configError('', lines(r.error.issues));
  return r.data;
}
