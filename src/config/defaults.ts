// The names and values the three commands must agree on, said once: bootstrap
// creates these mounts and roles, the agent uses them when given no flag, and
// the webhook injects agents that do (DESIGN.md, "Vault interaction").

export const MESH_DEFAULTS = Object.freeze({
  /** Kubernetes auth mount and the role workloads log in with */
  authMount: 'kubernetes',
  authRole: 'mesh-workload',
  /** root mount: its issuers are the trusted roots */
  rootMount: 'pki',
  /** intermediate mount and the PKI role that issues workload certificates */
  pkiMount: 'pki_istio',
  pkiRole: 'istio-workload',
  trustDomain: 'cluster.local',
  /** the workload certificate's requested lifetime (Istio's SECRET_TTL) */
  ttl: '24h',
  /** the JWT audience the projected token carries and the auth role requires */
  tokenAudience: 'vault',
  layout: 'istio',
  mode: 'issue',
  outDir: '/var/run/secrets/workload-spiffe-credentials',
  /** `run`'s metrics and health port */
  metricsPort: 9102,
  logLevel: 'info',
});
