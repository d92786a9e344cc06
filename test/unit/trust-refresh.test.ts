// The bundle refresh's timer (a fake clock: no waiting) and the rotation's
// "time left" wording, both pure enough to test without the stack; the
// refresh against a real Vault is test/agent/bundle-refresh.test.ts.

import { describe, expect, it } from 'vitest';
import { left } from '../../src/bootstrap/rotate/run.ts';
import { createLogger } from '../../src/log/log.ts';
import { keepTrustFresh } from '../../src/renewal/trust-refresh.ts';
import type { Timers } from '../../src/renewal/timers.ts';

function fakeTimers() {
  let now = 0;
  const pending: { fn: () => void; due: number }[] = [];
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => pending.push({ fn, due: now + ms }),
    clearTimeout: () => pending.splice(0),
  };
  return {
    timers,
    pending,
    /** fires the one armed timer; returns when it was due */
    async fire(): Promise<number> {
      const t = pending.shift()!;
      now = t.due;
      t.fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
      return t.due;
    },
  };
}

const log = createLogger({ name: 'test', level: 'silent' });

describe('keepTrustFresh', () => {
  it('reads every interval within ±10%, keeps going after a failed read, and stops for good', async () => {
    const clock = fakeTimers();
    const randoms = [0, 0.999, 0.5];
    let calls = 0;
    const agent = {
      refreshTrust: async () => {
        calls++;
        if (calls === 1) throw new Error('Vault sealed');
        return false;
      },
    };
    const r = keepTrustFresh(agent, { intervalMs: 60_000, timers: clock.timers, random: () => randoms.shift() ?? 0.5, log });
    const first = await clock.fire();
    expect(first).toBe(54_000); // the low edge: 60 s − 10%
    const second = await clock.fire(); // armed again although the first read failed
    expect(second - first).toBeGreaterThan(65_900);
    expect(second - first).toBeLessThanOrEqual(66_000);
    expect(calls).toBe(2);
    r.stop();
    expect(clock.pending).toHaveLength(0);
  });
});

describe('left (the wait a refused phase names)', () => {
  it('reads as hours, minutes and seconds, and never as zero', () => {
    expect(left(3598)).toBe('59m58s');
    expect(left(3600)).toBe('1h');
    expect(left(90061)).toBe('25h1m1s');
    expect(left(0.2)).toBe('1s');
  });
});
