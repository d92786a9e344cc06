// The renewal loop watched on a fake clock (named fakes: no files are written
// and Vault is a stub the test supplies): timers that fire only when stepped,
// in time order, with Node's 2^31−1 ms limit (a longer delay fires after
// 1 ms, as in Node); and an Agent that already holds a certificate.

import type { Bundle } from '../../src/certs/bundle.ts';
import { createLogger } from '../../src/log/log.ts';
import { agentMetrics } from '../../src/metrics/agent-metrics.ts';
import { Agent } from '../../src/renewal/agent.ts';
import { MAX_TIMEOUT_MS, type Timers } from '../../src/renewal/timers.ts';
import { fakeServiceAccountJwt } from './fakes.ts';

export interface SteppedClock {
  now: number;
  timers: Timers;
  /** every delay ever armed, in ms */
  armed: number[];
  /** fires the earliest timer due by `until`, moving the clock to it; false when there is none */
  step(until?: number): Promise<boolean>;
}

export function steppedClock(start: number): SteppedClock {
  let seq = 0;
  const pending = new Map<number, { fn: () => void; due: number }>();
  const clock: SteppedClock = {
    now: start,
    armed: [],
    timers: {
      now: () => clock.now,
      setTimeout: (fn, ms) => {
        clock.armed.push(ms);
        pending.set(++seq, { fn, due: clock.now + (ms > MAX_TIMEOUT_MS ? 1 : ms) });
        return seq;
      },
      clearTimeout: (h) => void pending.delete(h as number),
    },
    async step(until = Infinity) {
      const [id, next] = [...pending].sort((a, b) => a[1].due - b[1].due)[0] ?? [];
      if (!next || next.due > until) return false;
      pending.delete(id!);
      clock.now = Math.max(clock.now, next.due);
      next.fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // the callback's promises settle
      return true;
    },
  };
  return clock;
}

/** An Agent on `clock` holding a certificate valid [now, now + lifetime), renewing through `issue` (a stub that records and throws). */
export function agentHolding(o: { clock: SteppedClock; lifetimeMs: number; graceRatio: number; jitter: number; random: () => number; issue: () => Promise<never> }): Agent {
  const agent = new Agent({
    obtain: {
      pki: {
        issue: o.issue,
        sign: async () => {
          throw new Error('sign mode is not used here');
        },
      },
      tokenSource: { path: '/token', read: async () => fakeServiceAccountJwt() },
      mode: 'issue',
      trustDomain: 'cluster.local',
      dnsSans: [],
      ttlSeconds: o.lifetimeMs / 1000,
      extraRoots: async () => '',
    },
    trustedRoots: async () => '',
    layout: { name: 'none', files: new Map() },
    outDir: '/nonexistent',
    write: {},
    policy: { graceRatio: o.graceRatio, jitter: o.jitter },
    reload: {},
    log: createLogger({ name: 'test', level: 'silent' }),
    metrics: agentMetrics(),
    timers: o.clock.timers,
    random: o.random,
  });
  // As after a first write (or a reuse at start): the lifetime counts from notBefore.
  agent.state = 'written';
  agent.current = { notBefore: new Date(o.clock.now), notAfter: new Date(o.clock.now + o.lifetimeMs) } as Bundle;
  agent.keepFresh();
  return agent;
}
