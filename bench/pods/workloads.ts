// The three pods the benchmark starts, identical but for what asks for a
// certificate: the same app container (the pause image: it is Ready the
// moment it runs, so what is timed is the injection's cost), the same
// hardened pod security context, the same service account.
//
//   plain         no injection (its namespace is served by no webhook)
//   ours          `vault-pki-agent.io/inject: "true"`: our chart's webhook adds
//                 an init container and a native sidecar (the chart's default)
//   ours-regular  the same annotation, served by a second release of the chart
//                 with `injector.nativeSidecar: "false"`: the sidecar is an
//                 ordinary container that starts alongside the app, as
//                 vault-k8s's does (shows what the native sidecar's ordering costs)
//   vault-k8s     HashiCorp's annotations: vault-k8s adds vault-agent-init and
//                 the vault-agent sidecar with an equivalent pkiCert template

export type Kind = 'plain' | 'ours' | 'ours-regular' | 'vault-k8s';
export const KINDS: readonly Kind[] = ['plain', 'ours', 'ours-regular', 'vault-k8s'];

/** The sidecar container each kind's pods get (the one whose memory is compared). */
export const SIDECAR: Record<Kind, string | undefined> = { plain: undefined, ours: 'vault-pki-agent', 'ours-regular': 'vault-pki-agent', 'vault-k8s': 'vault-agent' };

/** The init container each kind's webhook adds (its run time is reported from containerd's events). */
export const INIT: Record<Kind, string | undefined> = { plain: undefined, ours: 'vault-pki-agent-init', 'ours-regular': 'vault-pki-agent-init', 'vault-k8s': 'vault-agent-init' };

export const SERVICE_ACCOUNT = 'bench';
/** Projected token volume the vault-k8s pods carry for Vault Agent (audience `vault`, as our webhook's). */
export const VAULT_TOKEN_VOLUME = 'vault-token';
/** Secret in the vault-k8s namespace holding Vault's CA as `ca.crt` (mounted by vault-k8s at /vault/tls). */
export const VAULT_TLS_SECRET = 'vault-tls';

export interface PkiTarget {
  pkiMount: string;
  pkiRole: string;
  authRole: string;
  trustDomain: string;
  ttl: string;
}

/** What our chart's webhook injects by default (src/webhook/defaults.ts), spelled out for Vault Agent. */
export const PKI: PkiTarget = { pkiMount: 'pki_istio', pkiRole: 'istio-workload', authRole: 'mesh-workload', trustDomain: 'cluster.local', ttl: '24h' };

/**
 * vault-k8s v1.6.2 annotations (agent-inject/agent/annotations.go) for what
 * our `init` + `run` do: Kubernetes auth with an audience-`vault` projected
 * token, one pkiCert issuance, cert + CA into cert-chain.pem, the key via
 * writeToFile, the same SPIFFE URI SAN and ttl; Vault's CA from a Secret.
 */
export function vaultK8sAnnotations(ns: string, p: PkiTarget = PKI): Record<string, string> {
  const path = `${p.pkiMount}/issue/${p.pkiRole}`;
  const spiffe = `spiffe://${p.trustDomain}/ns/${ns}/sa/${SERVICE_ACCOUNT}`;
  return {
    'vault.hashicorp.com/agent-inject': 'true',
    'vault.hashicorp.com/role': p.authRole,
    'vault.hashicorp.com/agent-init-first': 'true',
    'vault.hashicorp.com/agent-service-account-token-volume-name': VAULT_TOKEN_VOLUME,
    'vault.hashicorp.com/tls-secret': VAULT_TLS_SECRET,
    'vault.hashicorp.com/ca-cert': '/vault/tls/ca.crt',
    'vault.hashicorp.com/agent-inject-secret-cert-chain.pem': path,
    'vault.hashicorp.com/agent-inject-template-cert-chain.pem': [
      `{{- with pkiCert "${path}" "uri_sans=${spiffe}" "ttl=${p.ttl}" -}}`,
      '{{ .Cert }}{{ .CA }}{{ .Key | writeToFile "/vault/secrets/key.pem" "" "" "0600" }}',
      '{{- end -}}',
    ].join('\n'),
  };
}

export interface PodOptions {
  kind: Kind;
  ns: string;
  name: string;
  /** the run's label value, for the watch's selector */
  run: string;
  pauseImage: string;
}

export const RUN_LABEL = 'vault-pki-agent.io/bench-run';

export function benchPod(o: PodOptions): object {
  const annotations =
    o.kind === 'ours' || o.kind === 'ours-regular' ? { 'vault-pki-agent.io/inject': 'true' } : o.kind === 'vault-k8s' ? vaultK8sAnnotations(o.ns) : {};
  const volumes =
    o.kind === 'vault-k8s'
      ? [{ name: VAULT_TOKEN_VOLUME, projected: { sources: [{ serviceAccountToken: { audience: 'vault', expirationSeconds: 3600, path: 'token' } }] } }]
      : [];
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: o.name, namespace: o.ns, labels: { [RUN_LABEL]: o.run, 'vault-pki-agent.io/bench-kind': o.kind }, annotations },
    spec: {
      serviceAccountName: SERVICE_ACCOUNT,
      terminationGracePeriodSeconds: 5,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [
        {
          name: 'app',
          image: o.pauseImage,
          imagePullPolicy: 'Never',
          resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '32Mi' } },
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes,
    },
  };
}

/** Names of the containers the webhook added, or what is missing: a pod that was not injected must not be timed as injected. */
export function injectionProblem(kind: Kind, pod: any): string | undefined {
  const names = [...(pod.spec.initContainers ?? []), ...pod.spec.containers].map((c: { name: string }) => c.name);
  const want = kind === 'plain' ? [] : kind === 'vault-k8s' ? ['vault-agent-init', 'vault-agent'] : ['vault-pki-agent-init', 'vault-pki-agent'];
  const missing = want.filter((n) => !names.includes(n));
  if (kind === 'plain' && names.length !== 1) return `a plain pod got containers ${names.join(', ')}: a webhook served its namespace`;
  return missing.length ? `pod ${pod.metadata.name} (${kind}) has containers ${names.join(', ')}, not ${missing.join(', ')}: its webhook did not inject it` : undefined;
}
