// `vault-pki-agent webhook`: flags → validated settings (src/config/webhook-config.ts;
// every problem one CONFIG line, exit 2, before anything starts), then serve until SIGTERM.

import { AgentError, briefly } from '../errors.ts';
import { kubeconfigError } from '../config/kubeconfig-error.ts';
import { createLogger } from '../log/log.ts';
import { hms } from '../config/duration.ts';
import { loadWebhookConfig, WEBHOOK_FLAGS } from '../config/webhook-config.ts';
import { DEFAULTS, type WebhookDefaults } from '../webhook/defaults.ts';
import type { TlsSource } from '../webhook/app.ts';
import { flagHelp, parseFlags } from './flags.ts';

export async function webhookCommand(argv: string[]): Promise<number> {
  const { values: cli } = parseFlags('webhook', argv, WEBHOOK_FLAGS);
  if (cli.help) {
    process.stdout.write(flagHelp('webhook', 'Serve the pod-injection admission webhook (AdmissionReview v1).', WEBHOOK_FLAGS));
    return 0;
  }
  const c = await loadWebhookConfig(cli);
  const certFile = c['tls-cert'];
  const native = c['native-sidecar'];

  const log = createLogger({ name: 'vault-pki-agent-webhook', level: c['log-level'] });
  const { kubeConfig, publishCaBundle, supportsNativeSidecars } = await import('../webhook/kube.ts');
  const { startWebhook } = await import('../webhook/app.ts');
  let kc: ReturnType<typeof kubeConfig> | undefined;
  try {
    kc = native === 'auto' || !certFile ? kubeConfig(c.kubeconfig) : undefined;
  } catch (err) {
    throw new AgentError('CONFIG', `${c.kubeconfig ? `--kubeconfig ${c.kubeconfig}` : 'kubeconfig (in-cluster or $KUBECONFIG)'}: cannot load it (${kubeconfigError(err)}); point --kubeconfig at a valid kubeconfig file`);
  }
  let nativeSidecar = native === 'true';
  if (native === 'auto') {
    try {
      nativeSidecar = await supportsNativeSidecars(kc!);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'could not read the Kubernetes version; injecting a classic sidecar (set --native-sidecar to decide)');
    }
  }
  const vaultAddr = c['vault-addr']!;
  const edge = c['outage-budget'];
  const defaults: WebhookDefaults = Object.freeze({
    ...DEFAULTS,
    image: c.image!,
    imagePullPolicy: c['image-pull-policy'],
    vaultAddr,
    ...(c['allow-insecure-http'] && new URL(vaultAddr).protocol === 'http:' ? { vaultInsecureHttp: true } : {}),
    ...(c['vault-cacert-configmap'] ? { vaultCaConfigMap: c['vault-cacert-configmap'] } : {}),
    authRole: c['default-role'],
    nativeSidecar,
    logLevel: c['agent-log-level'],
    ...(edge ? { ttl: hms(edge.ttlSeconds), graceRatio: edge.graceRatio } : {}),
  });
  const tls: TlsSource = certFile
    ? { kind: 'files', certFile, keyFile: c['tls-key']! }
    : {
        kind: 'auto',
        hosts: c['tls-hosts'],
        certLifetimeMs: c['tls-cert-lifetime'],
        caLifetimeMs: c['tls-ca-lifetime'],
        publish: (pems) => publishCaBundle(kc!, c['webhook-config-name']!, pems),
      };
  const running = await startWebhook({ ...c.listen, tls, defaults, log, connections: { handshakeTimeoutMs: c['handshake-timeout'], idleTimeoutMs: c['idle-timeout'], maxConnections: c['max-connections'] } }).catch((err: NodeJS.ErrnoException) => {
    if (err.syscall === 'listen' || err.code === 'EADDRINUSE') {
      throw new AgentError('CONFIG', `--listen ${c.listen.host}:${c.listen.port}: cannot listen (${err.code}); choose a free port or address`);
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

