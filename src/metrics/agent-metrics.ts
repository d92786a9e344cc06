// The agent's metrics, named as DESIGN.md "Observability" lists them.
import { Counter, Gauge, Histogram, Registry } from './registry.ts';

export function agentMetrics() {
  const registry = new Registry();
  return {
    registry,
    certExpiry: registry.register(new Gauge('vault_pki_agent_cert_expiry_timestamp_seconds', 'notAfter of the certificate on disk, unix seconds')),
    nextRenewal: registry.register(new Gauge('vault_pki_agent_next_renewal_timestamp_seconds', 'when the agent will next renew, unix seconds')),
    renewals: registry.register(new Counter('vault_pki_agent_renewals_total', 'certificate renewals by result (success, failure)')),
    vaultRequests: registry.register(new Counter('vault_pki_agent_vault_requests_total', 'Vault requests by operation and HTTP status (or error)')),
    vaultDuration: registry.register(
      new Histogram('vault_pki_agent_vault_request_duration_seconds', 'Vault request latency by operation', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    ),
    reloadHooks: registry.register(new Counter('vault_pki_agent_reload_hooks_total', 'reload hooks run after a rotation by result (success, failure, timeout)')),
    rewrites: registry.register(new Counter('vault_pki_agent_self_heal_total', 'credential sets rewritten from memory after they changed on disk')),
    trustRoots: registry.register(new Gauge('vault_pki_agent_trust_bundle_roots', 'roots in the trust bundle on disk (root-cert.pem)')),
    trustChanges: registry.register(new Counter('vault_pki_agent_trust_bundle_changes_total', 'trust bundles rewritten by the bundle refresh (same certificate and key, new roots)')),
  };
}

export type AgentMetrics = ReturnType<typeof agentMetrics>;
