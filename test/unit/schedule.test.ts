import { describe, expect, it } from 'vitest';
import { backoffDelay, graceRatioWithJitter, renewAt, stillFresh } from '../../src/renewal/schedule.ts';
import { parseDuration } from '../../src/config/duration.ts';

const day = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2026-01-02T00:00:00Z') };

describe('renewal arithmetic', () => {
  it('renews at half the lifetime with ratio 0.5 and no jitter', () => {
    expect(renewAt(day, { graceRatio: 0.5, jitter: 0 }, 0.7).toISOString()).toBe('2026-01-01T12:00:00.000Z');
  });

  it('spreads the grace ratio by ± jitter using the random draw', () => {
    expect(graceRatioWithJitter({ graceRatio: 0.5, jitter: 0.01 }, 0)).toBeCloseTo(0.49);
    expect(graceRatioWithJitter({ graceRatio: 0.5, jitter: 0.01 }, 0.5)).toBeCloseTo(0.5);
    expect(graceRatioWithJitter({ graceRatio: 0.5, jitter: 0.01 }, 0.999999)).toBeCloseTo(0.51);
  });

  it('clamps the jittered ratio into [0, 1]', () => {
    expect(graceRatioWithJitter({ graceRatio: 0.99, jitter: 0.5 }, 0.999)).toBe(1);
    expect(graceRatioWithJitter({ graceRatio: 0.01, jitter: 0.5 }, 0)).toBe(0);
  });

  it('takes the lifetime from the certificate, so a ttl shortened by Vault moves the renewal earlier', () => {
    const short = { notBefore: day.notBefore, notAfter: new Date('2026-01-01T06:00:00Z') };
    expect(renewAt(short, { graceRatio: 0.5, jitter: 0 }, 0.5).toISOString()).toBe('2026-01-01T03:00:00.000Z');
  });

  it('treats a certificate as reusable only while more than the grace period is left', () => {
    const policy = { graceRatio: 0.5, jitter: 0.01 };
    expect(stillFresh(day, policy, new Date('2026-01-01T11:59:00Z'))).toBe(true);
    expect(stillFresh(day, policy, new Date('2026-01-01T12:01:00Z'))).toBe(false);
    expect(stillFresh(day, policy, new Date('2025-12-31T00:00:00Z'))).toBe(false);
  });
});

describe('backoff', () => {
  it('doubles the ceiling per attempt from 1 s and caps it at 5 minutes', () => {
    expect(backoffDelay(0, 0.999)).toBe(999);
    expect(backoffDelay(3, 0.999)).toBe(7992);
    expect(backoffDelay(20, 0.999)).toBe(299_700);
  });

  it('draws the full jitter from zero, but never below 100 ms', () => {
    expect(backoffDelay(5, 0)).toBe(100);
    expect(backoffDelay(5, 0.5)).toBe(16_000);
  });
});

describe('durations', () => {
  it('reads Go-style durations and plain seconds', () => {
    expect(parseDuration('24h')).toBe(86400);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('90')).toBe(90);
    expect(parseDuration('1.5h')).toBe(5400);
  });
  it('rejects anything else', () => {
    for (const bad of ['forever', '', '-1h', '1y', '10 m']) expect(parseDuration(bad)).toBeUndefined();
  });
});
