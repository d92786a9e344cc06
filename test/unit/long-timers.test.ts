// Waits longer than setTimeout can hold (2^31−1 ms, ~24.8 days): the agent's
// renewal and the webhook's automatic TLS must fire at their time, not early.
// The fake clock (stepped-agent.ts) behaves as Node does with such a delay: it fires after 1 ms.

import { describe, expect, it, vi } from 'vitest';
import { AgentError } from '../../src/errors.ts';
import { createLogger } from '../../src/log/log.ts';
import { MAX_TIMEOUT_MS } from '../../src/renewal/timers.ts';
import { startAutoTls } from '../../src/webhook/autotls.ts';
import { agentHolding, steppedClock } from './stepped-agent.ts';

const DAY = 86_400_000;

describe('timers past 2^31−1 ms', () => {
  it('the agent renews a one-year certificate at its grace point, half a year on, not after 24.8 days', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const clock = steppedClock(start);
    const askedAt: number[] = [];
    const issue = async (): Promise<never> => {
      askedAt.push(clock.now);
      throw new AgentError('VAULT_UNREACHABLE', 'no Vault in this test');
    };
    // A certificate already written: one year of life from `start`.
    const agent = agentHolding({ clock, lifetimeMs: 365 * DAY, graceRatio: 0.5, jitter: 0, random: () => 0.5, issue });
    const due = start + 182.5 * DAY;
    while (askedAt.length === 0 && (await clock.step(due))) {
      // each step fires one timer; none may ask Vault before `due`
    }
    expect(askedAt).toEqual([due]);
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(MAX_TIMEOUT_MS);
    await agent.stop();
  });

  it("the webhook's automatic TLS renews a 1000 h serving certificate at two thirds of its life, once", async () => {
    const clock = steppedClock(Date.now());
    const start = clock.now;
    const renewedAt: number[] = [];
    const auto = await startAutoTls({
      hosts: ['127.0.0.1'],
      certLifetimeMs: 1000 * 3_600_000,
      caLifetimeMs: 3000 * 3_600_000,
      publish: async () => undefined,
      onServing: () => renewedAt.push(clock.now),
      log: createLogger({ name: 'test', level: 'silent' }),
      timers: clock.timers,
    });
    const twoThirds = start + (2 / 3) * 1000 * 3_600_000;
    while (renewedAt.length === 0 && (await clock.step(twoThirds + DAY))) {
      // steps of at most 2^31−1 ms until the renewal, which then signs a certificate (real crypto, async)
    }
    await vi.waitFor(() => expect(renewedAt.length).toBeGreaterThan(0), { timeout: 5_000 });
    auto.stop();
    expect(renewedAt).toHaveLength(1);
    // The serving certificate's notAfter comes from the real clock; allow the few ms the test took.
    expect(Math.abs(renewedAt[0]! - twoThirds)).toBeLessThan(60_000);
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(MAX_TIMEOUT_MS);
  });
});
