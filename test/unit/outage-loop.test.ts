// The outage formula (docs/edge.md) against the Agent's real renewal loop on a
// fake clock: an outage that starts just as the renewal falls due (the worst
// start), with the draws that hurt most (the latest renewal the jitter allows,
// then every backoff step taken whole). Vault is a stub that fails while the
// link is "down" and records when the agent asks again once it is back.

import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.ts';
import type { Agent } from '../../src/renewal/agent.ts';
import { AGENT_REQUEST_TIMEOUT_SECONDS, DEFAULT_MARGINS, outageWindow, planForOutage } from '../../src/renewal/outage-budget.ts';
import { agentHolding, steppedClock } from './stepped-agent.ts';

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

/**
 * Holds a certificate of `lifetimeMs` from START; the link drops at the first
 * renewal ask and is back `outageMs` later. Returns when the agent first asks
 * with the link back, and the certificate's notAfter.
 */
async function rideOut(o: { lifetimeMs: number; graceRatio: number; jitter: number; outageMs: number }): Promise<{ askedAt: number; notAfter: number; failures: number }> {
  const clock = steppedClock(START);
  let downAt: number | undefined;
  let backAsk: number | undefined;
  let failures = 0;
  let draws = 0;
  const issue = async (): Promise<never> => {
    const since = (downAt ??= clock.now);
    if (clock.now < since + o.outageMs) {
      failures++;
      throw new AgentError('VAULT_UNREACHABLE', 'stub Vault: the link is down');
    }
    backAsk = clock.now;
    throw new AgentError('VAULT_UNREACHABLE', 'stub Vault: recorded the first ask with the link back');
  };
  // The first draw places the renewal: 0 = ratio − jitter, the least time left.
  // Every later draw is a backoff delay: just under 1 = each step taken whole.
  const random = () => (draws++ === 0 ? 0 : 0.999_999);
  agents.push(agentHolding({ clock, lifetimeMs: o.lifetimeMs, graceRatio: o.graceRatio, jitter: o.jitter, random, issue }));
  while (backAsk === undefined && (await clock.step())) {
    // one timer at a time, through the whole outage
  }
  return { askedAt: backAsk!, notAfter: START + o.lifetimeMs, failures };
}

const skewMs = DEFAULT_MARGINS.clockSkewSeconds * 1000;
const requestMs = AGENT_REQUEST_TIMEOUT_SECONDS * 1000;

describe('an outage starting just as the renewal falls due, worst draws', () => {
  it('a role sized for 12h (16h27m, ratio 0.75) asks again with the link back while its certificate has clock skew and a request to spare', async () => {
    const plan = planForOutage(12 * 3600);
    const r = await rideOut({ lifetimeMs: plan.ttlSeconds * 1000, graceRatio: plan.graceRatio, jitter: plan.jitter, outageMs: 12 * HOUR });
    expect(r.failures).toBeGreaterThan(100); // 12 h of retries, mostly at the 5-minute cap
    expect(r.askedAt + requestMs).toBeLessThanOrEqual(r.notAfter - skewMs);
  });

  it('the defaults (24h, ratio 0.5) ride out their sure budget, 11h35m26s, the same way', async () => {
    const sure = outageWindow(86_400, { graceRatio: 0.5, jitter: 0.01 }, DEFAULT_MARGINS).worstCaseSeconds;
    const r = await rideOut({ lifetimeMs: 24 * HOUR, graceRatio: 0.5, jitter: 0.01, outageMs: sure * 1000 });
    expect(r.askedAt + requestMs).toBeLessThanOrEqual(r.notAfter - skewMs);
  });

  it('the defaults do not ride out 12h: with the link back, the certificate has already expired', async () => {
    const r = await rideOut({ lifetimeMs: 24 * HOUR, graceRatio: 0.5, jitter: 0.01, outageMs: 12 * HOUR });
    expect(r.askedAt).toBeGreaterThan(r.notAfter);
  });
});
