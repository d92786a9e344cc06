// Waits longer than setTimeout can hold (2^31−1 ms, ~24.8 days): the agent's
// renewal and the webhook's automatic TLS must fire at their time, not early.
// The fake clock behaves as Node does with such a delay: it fires after 1 ms.

import { describe, expect, it, vi } from 'vitest';
import type { Bundle } from '../../src/certs/bundle.ts';
import { AgentError } from '../../src/errors.ts';
import { createLogger } from '../../src/log/log.ts';
import { agentMetrics } from '../../src/metrics/agent-metrics.ts';
import { Agent } from '../../src/renewal/agent.ts';
import { MAX_TIMEOUT_MS, type Timers } from '../../src/renewal/timers.ts';
import { startAutoTls } from '../../src/webhook/autotls.ts';
import { fakeServiceAccountJwt } from './fakes.ts';

const DAY = 86_400_000;

/** A fake clock with Node's setTimeout limit; `runUntilIdle` fires timers in time order, moving the clock. */
function fakeClock(start: number) {
  let seq = 0;
  const pending = new Map<number, { fn: () => void; due: number }>();
  const armed: number[] = [];
  const timers: Timers = {
    now: () => clock.now,
    setTimeout: (fn, ms) => {
      armed.push(ms);
      pending.set(++seq, { fn, due: clock.now + (ms > MAX_TIMEOUT_MS ? 1 : ms) });
      return seq;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  const clock = {
    now: start,
    timers,
    armed,
    /** fires the next timer due no later than `until`; false when there is none */
    async step(until: number): Promise<boolean> {
      const next = [...pending].sort((a, b) => a[1].due - b[1].due)[0];
      if (!next || next[1].due > until) return false;
      pending.delete(next[0]);
      clock.now = Math.max(clock.now, next[1].due);
      next[1].fn();
      await new Promise((r) => setImmediate(r)); // let the callback's promises settle
      return true;
    },
  };
  return clock;
}

describe('timers past 2^31−1 ms', () => {
  it('the agent renews a one-year certificate at its grace point, half a year on, not after 24.8 days', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    const clock = fakeClock(start);
    const askedAt: number[] = [];
    const metrics = agentMetrics();
    const agent = new Agent({
      obtain: {
        pki: {
          issue: async () => {
            askedAt.push(clock.now);
            throw new AgentError('VAULT_UNREACHABLE', 'no Vault in this test');
          },
          sign: async () => {
            throw new Error('sign mode is not used here');
          },
        },
        tokenSource: { path: '/token', read: async () => fakeServiceAccountJwt() },
        mode: 'issue',
        trustDomain: 'cluster.local',
        dnsSans: [],
        ttlSeconds: 365 * 86_400,
        extraRoots: async () => '',
      },
      trustedRoots: async () => '',
      layout: { name: 'none', files: new Map() },
      outDir: '/nonexistent',
      write: {},
      policy: { graceRatio: 0.5, jitter: 0 },
      reload: {},
      log: createLogger({ name: 'test', level: 'silent' }),
      metrics,
      timers: clock.timers,
      random: () => 0.5,
    });
    // A certificate already written: one year of life from `start`.
    agent.state = 'written';
    agent.current = { notBefore: new Date(start), notAfter: new Date(start + 365 * DAY) } as Bundle;
    agent.keepFresh();
    const due = start + 182.5 * DAY;
    while (askedAt.length === 0 && (await clock.step(due))) {
      // each step fires one timer; none may ask Vault before `due`
    }
    expect(askedAt).toEqual([due]);
    expect(Math.max(...clock.armed)).toBeLessThanOrEqual(MAX_TIMEOUT_MS);
    await agent.stop();
  });

  it("the webhook's automatic TLS renews a 1000 h serving certificate at two thirds of its life, once", async () => {
    const clock = fakeClock(Date.now());
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
