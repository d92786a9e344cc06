// The renewal loop on a fake clock: when the Agent asks Vault again, for a
// certificate it holds, under each random draw; and how it retries after a
// failure — backoff, then one last try just before the old certificate runs
// out. Vault is a stub that records the clock and always fails, so the
// schedule is all that is observed (no files are written).

import { afterEach, describe, expect, it } from 'vitest';
import { AgentError } from '../../src/errors.ts';
import type { Agent } from '../../src/renewal/agent.ts';
import { agentHolding, steppedClock } from './stepped-agent.ts';

const START = Date.parse('2026-01-01T00:00:00Z');
const HOUR = 3_600_000;

const agents: Agent[] = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
});

/** An Agent holding a certificate valid [START, START + lifetime), whose every renewal fails; returns when it asked Vault. */
function holding(opts: { lifetimeMs: number; graceRatio: number; jitter: number; random: () => number }) {
  const clock = steppedClock(START);
  const askedAt: number[] = [];
  const issue = async (): Promise<never> => {
    askedAt.push(clock.now);
    throw new AgentError('VAULT_UNREACHABLE', 'stub Vault: always down');
  };
  agents.push(agentHolding({ ...opts, clock, issue }));
  return { clock, askedAt };
}

describe('the renewal point: time left = lifetime × clamp(ratio ± random·jitter, 0, 1)', () => {
  // 24 h certificates, ratio 0.5, jitter 0.05: the share left when it asks is 0.5 + (2r − 1)·0.05.
  const cases: [string, number, number][] = [
    ['the lowest draw asks when 45% is left (13h12m in)', 0, 13.2 * HOUR],
    ['the middle draw asks when 50% is left (12h in)', 0.5, 12 * HOUR],
    ['the highest draw asks when 55% is left (10h48m in)', 1, 10.8 * HOUR],
    ['a draw of 0.75 asks when 52.5% is left (11h24m in)', 0.75, 11.4 * HOUR],
  ];
  for (const [title, draw, after] of cases) {
    it(title, async () => {
      const { clock, askedAt } = holding({ lifetimeMs: 24 * HOUR, graceRatio: 0.5, jitter: 0.05, random: () => draw });
      while (askedAt.length === 0 && (await clock.step(START + 24 * HOUR))) {
        // one timer at a time; none may ask before its time
      }
      expect(askedAt[0]! - START).toBeCloseTo(after, -1);
    });
  }

  it('never asks before the point a ratio of 0.3 would give, nor after the one 0.7 would give, over 200 draws', async () => {
    // The run-time test's window: a formula off by 0.2 either way would land outside it.
    const draws = Array.from({ length: 200 }, (_, i) => i / 199);
    const left: number[] = [];
    for (const d of draws) {
      const { clock, askedAt } = holding({ lifetimeMs: 4_000, graceRatio: 0.5, jitter: 0.05, random: () => d });
      while (askedAt.length === 0 && (await clock.step(START + 4_000))) {
        // advance to the first ask
      }
      left.push((START + 4_000 - askedAt[0]!) / 4_000);
    }
    expect(Math.min(...left)).toBeCloseTo(0.45, 3);
    expect(Math.max(...left)).toBeCloseTo(0.55, 3);
  });
});

describe('retries after a failed renewal', () => {
  // 10 s certificate, ratio 0.5, no jitter: due at 5 s. The highest draw takes each
  // backoff step whole: after the n-th failure up to 2^n s.
  it('backs off (2 s after the first failure), then makes one last try 1 s before expiry where the next step (4 s) would end after it', async () => {
    const { clock, askedAt } = holding({ lifetimeMs: 10_000, graceRatio: 0.5, jitter: 0, random: () => 0.999 });
    while (askedAt.length < 3 && (await clock.step(START + 10_000))) {
      // fire timers up to expiry
    }
    expect(askedAt.map((t) => t - START)).toEqual([5_000, 6_998, 9_000]);
  });

  it('after the last chance goes on with plain backoff (8 s, 16 s): none is left to make', async () => {
    const { clock, askedAt } = holding({ lifetimeMs: 10_000, graceRatio: 0.5, jitter: 0, random: () => 0.999 });
    while (askedAt.length < 5 && (await clock.step(START + 60_000))) {
      // past expiry
    }
    expect(askedAt.map((t) => t - START)).toEqual([5_000, 6_998, 9_000, 16_992, 32_976]);
  });
});
