// The renewal arithmetic, pure: (certificate validity, config, random) → when.
// Istio's rule: rotate once the time left drops below
//   grace = lifetime × clamp(ratio ± random·jitter, 0, 1)
// with the lifetime read from the issued certificate, not the requested ttl.

export interface RenewalPolicy {
  graceRatio: number;
  jitter: number;
}

/** `random` in [0, 1): the sign and size of the jitter both come from it. */
export function graceRatioWithJitter(policy: RenewalPolicy, random: number): number {
  const offset = (random * 2 - 1) * policy.jitter;
  return Math.min(1, Math.max(0, policy.graceRatio + offset));
}

export function renewAt(validity: { notBefore: Date; notAfter: Date }, policy: RenewalPolicy, random: number): Date {
  const lifetime = validity.notAfter.getTime() - validity.notBefore.getTime();
  const grace = lifetime * graceRatioWithJitter(policy, random);
  return new Date(validity.notAfter.getTime() - grace);
}

/** A certificate on disk is worth keeping at start when more than the grace period is left. */
export function stillFresh(validity: { notBefore: Date; notAfter: Date }, policy: RenewalPolicy, now: Date): boolean {
  return now < renewAt(validity, { graceRatio: policy.graceRatio, jitter: 0 }, 0.5) && now >= validity.notBefore;
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, capMs: 5 * 60_000 };

/**
 * Capped exponential backoff with full jitter (attempt 0 is the first retry).
 * Never below a tenth of the base, so a burst of failures cannot spin.
 */
export function backoffDelay(attempt: number, random: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.max(policy.baseMs / 10, Math.floor(backoffCeiling(attempt, policy) * random));
}

/** The longest delay `backoffDelay` can pick for `attempt`: one backoff step. */
export function backoffCeiling(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  return Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 30));
}
