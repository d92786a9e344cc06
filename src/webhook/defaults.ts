// What the webhook's flags decide for every injected pod (the annotations
// override the Vault/identity parts per pod). Frozen once at start.

import { MESH_DEFAULTS } from '../config/defaults.ts';

export interface ResourceSpec {
  requests: { cpu: string; memory: string };
  limits: { memory: string };
}

export interface WebhookDefaults {
  /** image of the injected containers: this same binary */
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  vaultAddr: string;
  /** an http:// vaultAddr the operator accepted (--allow-insecure-http): the agents must be told too */
  vaultInsecureHttp?: boolean;
  /** ConfigMap (in the pod's namespace) holding the CA that signed Vault's TLS certificate */
  vaultCaConfigMap?: { name: string; key: string };
  authMount: string;
  authRole: string;
  pkiMount: string;
  pkiRole: string;
  ttl: string;
  /** the agents' --grace-ratio, set with --outage-budget (docs/edge.md); absent: the agent's own default */
  graceRatio?: number;
  trustDomain: string;
  layout: string;
  mode: string;
  outDir: string;
  /** inject the sidecar as a native sidecar (init container, restartPolicy Always; Kubernetes ≥ 1.29) */
  nativeSidecar: boolean;
  /** port of the sidecar's /healthz, /readyz and /metrics */
  metricsPort: number;
  resources: ResourceSpec;
  logLevel: string;
}

/** Paths inside the injected containers. */
export const TOKEN_DIR = '/var/run/secrets/vault-pki-agent';
export const TOKEN_FILE = `${TOKEN_DIR}/token`;
export const VAULT_CA_FILE = `${TOKEN_DIR}/vault-ca.crt`;
export const TOKEN_AUDIENCE = MESH_DEFAULTS.tokenAudience;
export const TOKEN_SECONDS = 3600;

/** Names the webhook gives what it adds; their presence also marks a pod as injected. */
export const INIT_NAME = 'vault-pki-agent-init';
export const SIDECAR_NAME = 'vault-pki-agent';
export const CREDS_VOLUME = 'vault-pki-agent-credentials';
export const TOKEN_VOLUME = 'vault-pki-agent-token';

/** UID/GID the injected containers run as (the image's non-root user). */
export const AGENT_UID = 65532;
/**
 * The init container runs the CLI with V8's full JIT (it lives ~200 ms and
 * exits: lite mode would cost it ~50 ms); the sidecar keeps the image's
 * entrypoint, `node --lite-mode`, which saves 14–16 MiB RSS in every pod.
 */
export const INIT_COMMAND = ['node', '/app/dist/cli/main.js'];

export const DEFAULTS: Omit<WebhookDefaults, 'image' | 'vaultAddr'> = {
  imagePullPolicy: 'IfNotPresent',
  // the agent's own defaults (src/config/defaults.ts): what bootstrap creates
  authMount: MESH_DEFAULTS.authMount,
  authRole: MESH_DEFAULTS.authRole,
  pkiMount: MESH_DEFAULTS.pkiMount,
  pkiRole: MESH_DEFAULTS.pkiRole,
  ttl: MESH_DEFAULTS.ttl,
  trustDomain: MESH_DEFAULTS.trustDomain,
  layout: MESH_DEFAULTS.layout,
  mode: MESH_DEFAULTS.mode,
  outDir: MESH_DEFAULTS.outDir,
  nativeSidecar: true,
  metricsPort: MESH_DEFAULTS.metricsPort,
  // Measured: the sidecar as the image runs it holds 65–67 MiB RSS idle and renewing
  // (bench/README.md; test/webhook/injected-init.test.ts prints it too), so the request is
  // 80Mi; the limit leaves ~60 MiB for a rotation's garbage. CPU is idle between renewals.
  resources: { requests: { cpu: '10m', memory: '80Mi' }, limits: { memory: '128Mi' } },
  logLevel: MESH_DEFAULTS.logLevel,
};
