// Config → the containers and volumes to add. Pure; no knowledge of patches.

import type { V1Container, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { INSECURE_HTTP_FLAG } from '../config/vault-address.ts';
import type { InjectConfig } from './config.ts';
import {
  AGENT_UID,
  INIT_COMMAND,
  CREDS_VOLUME,
  INIT_NAME,
  SIDECAR_NAME,
  TOKEN_AUDIENCE,
  TOKEN_DIR,
  TOKEN_FILE,
  TOKEN_SECONDS,
  TOKEN_VOLUME,
  VAULT_CA_FILE,
  type WebhookDefaults,
} from './defaults.ts';

export interface Injection {
  volumes: V1Volume[];
  initContainer: V1Container;
  /** absent when `sidecar: "false"` */
  sidecar?: V1Container;
  /** true: the sidecar goes among init containers with restartPolicy Always */
  nativeSidecar: boolean;
  /** mount added to each selected consumer container */
  consumerMount: V1VolumeMount;
  /** set when the sidecar must signal another container's process */
  shareProcessNamespace: boolean;
}

export interface PodFacts {
  /** the pod's fsGroup: consumers running as other users read the key through it */
  fsGroup?: number;
}

/** The agent's flags, identical for `init` and `run` but for the verb and the serving ones. */
export function agentArgs(verb: 'init' | 'run', config: InjectConfig, defaults: WebhookDefaults, pod: PodFacts): string[] {
  const args = [
    verb,
    `--vault-addr=${defaults.vaultAddr}`,
    ...(defaults.vaultInsecureHttp ? [INSECURE_HTTP_FLAG] : []),
    ...(defaults.vaultCaConfigMap ? [`--vault-cacert=${VAULT_CA_FILE}`] : []),
    `--auth-mount=${config.authMount}`,
    `--auth-role=${config.authRole}`,
    `--token-path=${TOKEN_FILE}`,
    `--pki-mount=${config.pkiMount}`,
    `--pki-role=${config.pkiRole}`,
    ...(config.rootMount ? [`--root-mount=${config.rootMount}`] : []),
    `--mode=${config.mode}`,
    `--trust-domain=${config.trustDomain}`,
    ...config.dnsSans.map((san) => `--dns-san=${san}`),
    `--ttl=${config.ttl}`,
    ...(defaults.graceRatio !== undefined ? [`--grace-ratio=${defaults.graceRatio}`] : []),
    `--layout=${config.layout}`,
    `--out-dir=${config.outDir}`,
    ...(pod.fsGroup !== undefined ? [`--key-group=${pod.fsGroup}`] : []),
    `--log-level=${defaults.logLevel}`,
  ];
  if (verb === 'run') {
    args.push(`--listen=:${defaults.metricsPort}`);
    if (config.bundleRefresh) args.push(`--bundle-refresh=${config.bundleRefresh}`);
    if (config.onRotateSignal) args.push(`--on-rotate-signal=${config.onRotateSignal}`);
    if (config.signalProcess) args.push(`--signal-process=${config.signalProcess}`);
    if (config.signalPidFile) args.push(`--signal-pid-file=${config.signalPidFile}`);
  }
  return args;
}

function agentContainer(name: string, verb: 'init' | 'run', config: InjectConfig, defaults: WebhookDefaults, pod: PodFacts): V1Container {
  return {
    name,
    image: defaults.image,
    imagePullPolicy: defaults.imagePullPolicy,
    ...(verb === 'init' ? { command: [...INIT_COMMAND] } : {}),
    args: agentArgs(verb, config, defaults, pod),
    resources: {
      requests: { ...defaults.resources.requests },
      limits: { ...defaults.resources.limits },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: AGENT_UID,
      runAsGroup: pod.fsGroup ?? AGENT_UID,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: CREDS_VOLUME, mountPath: config.outDir },
      { name: TOKEN_VOLUME, mountPath: TOKEN_DIR, readOnly: true },
    ],
  };
}

/** The longest the sidecar's postStart hook waits for /readyz before it lets the kubelet go on. */
const READY_WAIT_MS = 30_000;

/**
 * The sidecar's postStart hook: returns once the sidecar's /readyz answers 200
 * (a valid certificate on disk), or after READY_WAIT_MS. While the hook runs
 * the kubelet starts nothing further in the pod and does not probe the
 * sidecar, so its first readiness probe finds it ready; without the hook, a
 * probe that came while Node was still loading left the pod unready for a
 * whole probe period (a 12 s start in bench/README.md). Always exits 0: a
 * sidecar restarted during a Vault outage must not be killed for waiting, and
 * the kubelet holds a pod's deletion until the hook returns. Node, because the
 * image is sure to have it (busybox wget crashes as a non-root user).
 */
export function readyWait(port: number): string[] {
  const script = [
    `const get = () => require('node:http').get('http://127.0.0.1:${port}/readyz', (res) => {`,
    '  res.resume();',
    '  if (res.statusCode === 200) process.exit(0);',
    '  setTimeout(get, 50);',
    "}).on('error', () => setTimeout(get, 50));",
    'get();',
    `setTimeout(() => process.exit(0), ${READY_WAIT_MS}).unref();`,
  ].join('\n');
  return ['node', '-e', script];
}

export function buildInjection(config: InjectConfig, defaults: WebhookDefaults, pod: PodFacts): Injection {
  const tokenSources: NonNullable<NonNullable<V1Volume['projected']>['sources']> = [
    { serviceAccountToken: { audience: TOKEN_AUDIENCE, expirationSeconds: TOKEN_SECONDS, path: 'token' } },
  ];
  if (defaults.vaultCaConfigMap) {
    tokenSources.push({ configMap: { name: defaults.vaultCaConfigMap.name, items: [{ key: defaults.vaultCaConfigMap.key, path: 'vault-ca.crt' }] } });
  }
  const volumes: V1Volume[] = [
    // In memory: the private key never reaches the node's disk.
    { name: CREDS_VOLUME, emptyDir: { medium: 'Memory', sizeLimit: '4Mi' } },
    { name: TOKEN_VOLUME, projected: { sources: tokenSources } },
  ];
  const initContainer = agentContainer(INIT_NAME, 'init', config, defaults, pod);
  let sidecar: V1Container | undefined;
  if (config.sidecar) {
    sidecar = agentContainer(SIDECAR_NAME, 'run', config, defaults, pod);
    sidecar.ports = [{ name: 'vpa-metrics', containerPort: defaults.metricsPort, protocol: 'TCP' }];
    sidecar.readinessProbe = { httpGet: { path: '/readyz', port: defaults.metricsPort }, periodSeconds: 10, failureThreshold: 3 };
    sidecar.livenessProbe = { httpGet: { path: '/healthz', port: defaults.metricsPort }, periodSeconds: 20, failureThreshold: 3 };
    sidecar.lifecycle = { postStart: { exec: { command: readyWait(defaults.metricsPort) } } };
    if (defaults.nativeSidecar) sidecar.restartPolicy = 'Always';
  }
  return {
    volumes,
    initContainer,
    ...(sidecar ? { sidecar } : {}),
    nativeSidecar: defaults.nativeSidecar,
    consumerMount: { name: CREDS_VOLUME, mountPath: config.outDir, readOnly: true },
    shareProcessNamespace: config.onRotateSignal !== undefined,
  };
}
