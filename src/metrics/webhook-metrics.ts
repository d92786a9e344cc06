// The webhook's metrics: admission reviews by decision and how long they took.
import { Counter, Histogram, Registry } from './registry.ts';

export function webhookMetrics() {
  const registry = new Registry();
  return {
    registry,
    reviews: registry.register(new Counter('vault_pki_agent_webhook_admissions_total', 'admission reviews answered, by decision (patch, skip, deny, error)')),
    duration: registry.register(
      new Histogram('vault_pki_agent_webhook_admission_duration_seconds', 'time from request to answer', [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]),
    ),
  };
}

export type WebhookMetrics = ReturnType<typeof webhookMetrics>;
