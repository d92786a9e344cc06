// The pod annotations the webhook reads, as documented constants. The README's
// "Webhook" section lists every key (a test checks both stay in step).

export const PREFIX = 'vault-pki-agent.io/';

/** Every annotation key the webhook reads or writes, with what it means. */
export const ANNOTATIONS = {
  inject: { key: `${PREFIX}inject`, doc: '`"true"` asks for injection; `"false"` or absent leaves the pod alone; any other value is refused' },
  role: { key: `${PREFIX}role`, doc: 'Vault Kubernetes-auth role to log in with (default: the webhook\'s `--default-role`, `mesh-workload`)' },
  pkiMount: { key: `${PREFIX}pki-mount`, doc: 'Vault PKI mount (default `pki_istio`)' },
  pkiRole: { key: `${PREFIX}pki-role`, doc: 'Vault PKI role (default `istio-workload`)' },
  rootMount: { key: `${PREFIX}root-mount`, doc: 'Vault PKI mount whose issuers are all trusted roots, written as the bundle (agent default `pki`)' },
  authMount: { key: `${PREFIX}auth-mount`, doc: 'Vault Kubernetes-auth mount (default `kubernetes`)' },
  ttl: { key: `${PREFIX}ttl`, doc: 'requested certificate lifetime, a duration such as `24h` or `90m` (default `24h`)' },
  bundleRefresh: { key: `${PREFIX}bundle-refresh`, doc: 'how often the sidecar re-reads the root mount\'s issuers for the trust bundle, a duration such as `5m` or `30s` (agent default `5m`); keep it below bootstrap\'s `rotation.propagation` (docs/rotation.md)' },
  trustDomain: { key: `${PREFIX}trust-domain`, doc: 'SPIFFE trust domain (default `cluster.local`)' },
  layout: { key: `${PREFIX}layout`, doc: '`istio` (default), `spiffe` or `tls`: the file names written' },
  mode: { key: `${PREFIX}mode`, doc: '`issue` (Vault makes the key, default) or `sign` (the key never leaves the pod)' },
  outDir: { key: `${PREFIX}out-dir`, doc: 'absolute path of the shared in-memory volume (default `/var/run/secrets/workload-spiffe-credentials`)' },
  dnsSans: { key: `${PREFIX}dns-sans`, doc: 'comma-separated DNS SANs to request (Vault limits them to the pod\'s namespace)' },
  containers: { key: `${PREFIX}containers`, doc: 'comma-separated names of the containers that mount the credentials (default: all, `istio-proxy` included, even when Istio injects it later)' },
  sidecar: { key: `${PREFIX}sidecar`, doc: '`"false"` injects the init container only (Jobs, one-shot pods); default `"true"`' },
  onRotateSignal: { key: `${PREFIX}on-rotate-signal`, doc: 'signal sent to the consumer after each rotation, such as `SIGHUP`, with `signal-process` or `signal-pid-file`; turns on `shareProcessNamespace`' },
  signalProcess: { key: `${PREFIX}signal-process`, doc: 'name of the process that gets `on-rotate-signal` (such as `nginx`)' },
  signalPidFile: { key: `${PREFIX}signal-pid-file`, doc: 'absolute path of the PID file of the process that gets `on-rotate-signal` (on a volume both containers mount)' },
  status: { key: `${PREFIX}status`, doc: 'written by the webhook: `injected`. Never set it yourself; a pod that has it is not injected again' },
} as const;

export type AnnotationName = keyof typeof ANNOTATIONS;

export const STATUS_INJECTED = 'injected';

/** Keys a user may set (all but the status the webhook writes). */
export const USER_KEYS: readonly string[] = Object.values(ANNOTATIONS)
  .map((a) => a.key)
  .filter((k) => k !== ANNOTATIONS.status.key);
