import { describe, expect, it } from 'vitest';
import { hms, parseDuration } from '../../src/config/duration.ts';
import { FIELDS } from '../../src/config/agent-config.ts';
import { isAgentError } from '../../src/errors.ts';
import { AGENT_JITTER, AGENT_REQUEST_TIMEOUT_SECONDS, DEFAULT_MARGINS, outageWindow, planForOutage, planForOutageText } from '../../src/renewal/outage-budget.ts';
import { backoffCeiling, DEFAULT_BACKOFF } from '../../src/renewal/schedule.ts';

const none = { clockSkewSeconds: 0, backoffStepSeconds: 0 };

describe('how long Vault may be unreachable with the agent defaults (24h, ratio 0.5, jitter 0.01)', () => {
  it('lets the certificate run 11h45m36s when the outage starts just as a renewal falls due, and 24h just after one', () => {
    const w = outageWindow(86_400, { graceRatio: 0.5, jitter: 0.01 });
    expect(w).toEqual({ worstCaseSeconds: 42_336, bestCaseSeconds: 86_400 });
    expect(hms(w.worstCaseSeconds)).toBe('11h45m36s');
  });

  it('guarantees a recovery in time for outages up to 11h35m26s once clock skew and one backoff step are kept back', () => {
    const w = outageWindow(86_400, { graceRatio: 0.5, jitter: 0.01 }, DEFAULT_MARGINS);
    expect(w).toEqual({ worstCaseSeconds: 41_726, bestCaseSeconds: 85_790 });
    expect(hms(w.worstCaseSeconds)).toBe('11h35m26s');
  });
});

describe('sizing ttl and ratio for an outage budget', () => {
  it('turns 12h into a 16h27m ttl renewed at ratio 0.75, whose worst case rides out 12h0m12s', () => {
    const p = planForOutage(12 * 3600);
    expect(p).toEqual({
      budgetSeconds: 43_200,
      ttlSeconds: 59_220,
      graceRatio: 0.75,
      jitter: 0.01,
      marginSeconds: 610,
      worstCaseSeconds: 43_212,
      bestCaseSeconds: 58_610,
      renewEverySeconds: 14_805,
    });
    expect(hms(p.ttlSeconds)).toBe('16h27m');
  });

  it("needs 24h51m at Istio's ratio 0.5 for the same 12h: the defaults fall short of a 12h budget", () => {
    expect(planForOutage(43_200, { graceRatio: 0.5 }).ttlSeconds).toBe(89_460);
  });

  it('gives exactly budget / ratio when there is no jitter and no margin', () => {
    expect(planForOutage(3_600, { graceRatio: 0.5, jitter: 0, margins: none }).ttlSeconds).toBe(7_200);
    expect(planForOutage(3_600, { graceRatio: 0.75, jitter: 0, margins: none }).ttlSeconds).toBe(4_800);
  });

  it('picks the shortest whole-minute ttl whose worst case still covers the budget', () => {
    for (const budget of [60, 61, 3_599, 3_600, 43_200, 86_400, 7 * 86_400, 8_760 * 3_600]) {
      const p = planForOutage(budget);
      expect(p.ttlSeconds % 60).toBe(0);
      expect(p.worstCaseSeconds).toBeGreaterThanOrEqual(budget);
      const shorter = outageWindow(p.ttlSeconds - 60, { graceRatio: p.graceRatio, jitter: p.jitter }, DEFAULT_MARGINS);
      expect(shorter.worstCaseSeconds, `${budget}s: ${p.ttlSeconds - 60}s would do`).toBeLessThan(budget);
    }
  });

  it("keeps back one backoff cap plus one request timeout, the agent's own defaults", () => {
    expect(DEFAULT_MARGINS.backoffStepSeconds * 1000).toBe(backoffCeiling(Number.MAX_SAFE_INTEGER) + AGENT_REQUEST_TIMEOUT_SECONDS * 1000);
    expect(backoffCeiling(1_000)).toBe(DEFAULT_BACKOFF.capMs);
    expect(AGENT_REQUEST_TIMEOUT_SECONDS).toBe(parseDuration(String(FIELDS['vault-timeout']!.default)));
    expect(AGENT_JITTER).toBe(FIELDS.jitter!.default);
  });

  it('reads a budget written as a duration', () => {
    expect(planForOutageText('3d', 'outageBudget').ttlSeconds).toBe(planForOutage(259_200).ttlSeconds);
  });

  it('refuses a budget that is not a duration from 1m to 8760h, naming the setting', () => {
    for (const bad of ['soon', '59s', '8761h', '-1h', '']) {
      let err: unknown;
      try {
        planForOutageText(bad, 'agent.outageBudget');
      } catch (e) {
        err = e;
      }
      expect(isAgentError(err, 'CONFIG'), bad).toBe(true);
      expect((err as Error).message).toContain(`agent.outageBudget ${JSON.stringify(bad)}`);
    }
  });

  it('refuses a ratio that jitter would push to 0 or 1', () => {
    expect(() => planForOutage(3_600, { graceRatio: 0.995 })).toThrow(/grace ratio 0.995/);
    expect(() => planForOutage(3_600, { graceRatio: 0.005 })).toThrow(/grace ratio 0.005/);
  });
});

describe('hms', () => {
  it('writes whole hours, minutes and seconds as a Go duration, omitting zero parts', () => {
    expect([hms(59_220), hms(43_212), hms(90), hms(0), hms(7_200)]).toEqual(['16h27m', '12h12s', '1m30s', '0s', '2h']);
  });
});
