// Outage budget → certificate ttl and agent grace ratio, pure. Used by
// bootstrap (the role's ttl) and the webhook (the agents' --ttl/--grace-ratio),
// so both sides of an edge cluster are sized by one rule (docs/edge.md):
//
// A healthy agent renews when (ratio ± jitter) × lifetime is left, so the
// certificate on disk always has at least (ratio − jitter) × ttl to run. An
// outage that begins at the worst moment — just as a renewal falls due — is
// ridden out when
//     (ratio − jitter) × ttl ≥ budget + clock skew + one backoff step
// and one that begins just after a renewal has the whole ttl.

import { AgentError } from '../errors.ts';
import { parseDuration } from '../config/duration.ts';
import { DEFAULT_BACKOFF } from './schedule.ts';

/** The agent's --vault-timeout default: an attempt that hung on the dead link ends by then. */
export const AGENT_REQUEST_TIMEOUT_SECONDS = 10;

export interface OutageMargins {
  /** peers (or Vault) whose clock runs ahead see the certificate expire this much early */
  clockSkewSeconds: number;
  /**
   * After a long outage retries are up to one backoff cap apart, and an attempt
   * in flight on the dead link ends only at its timeout: a link back this long
   * before expiry is used by an ordinary retry, without the last-chance try.
   */
  backoffStepSeconds: number;
}

export const DEFAULT_MARGINS: OutageMargins = Object.freeze({
  clockSkewSeconds: 300,
  backoffStepSeconds: DEFAULT_BACKOFF.capMs / 1000 + AGENT_REQUEST_TIMEOUT_SECONDS,
});

/**
 * Edge agents renew when three quarters of the lifetime is left: for a given
 * budget this keeps the ttl (what a leaked key is worth) at ~1.35 × budget
 * instead of ~2 × budget at Istio's 0.5, for four times the renewals.
 */
export const EDGE_GRACE_RATIO = 0.75;
export const AGENT_JITTER = 0.01;

const MIN_BUDGET = 60;
const MAX_BUDGET = 8760 * 3600;

export interface OutagePlan {
  budgetSeconds: number;
  /** the PKI role's ttl and max_ttl, and the agents' --ttl; whole minutes */
  ttlSeconds: number;
  /** the agents' --grace-ratio */
  graceRatio: number;
  jitter: number;
  marginSeconds: number;
  /** the longest outage ridden out when it starts just as a renewal falls due: ⌊(ratio − jitter) × ttl⌋ − margin */
  worstCaseSeconds: number;
  /** …when it starts just after a renewal: ttl − margin */
  bestCaseSeconds: number;
  /** time between renewals while Vault answers (jitter at its middle): (1 − ratio) × ttl */
  renewEverySeconds: number;
}

export interface OutageOptions {
  graceRatio?: number;
  jitter?: number;
  margins?: OutageMargins;
}

/** The shortest ttl, in whole minutes, whose worst case rides out `budgetSeconds`. */
export function planForOutage(budgetSeconds: number, opts: OutageOptions = {}): OutagePlan {
  const graceRatio = opts.graceRatio ?? EDGE_GRACE_RATIO;
  const jitter = opts.jitter ?? AGENT_JITTER;
  const margins = opts.margins ?? DEFAULT_MARGINS;
  if (!Number.isInteger(budgetSeconds) || budgetSeconds < MIN_BUDGET || budgetSeconds > MAX_BUDGET) {
    throw new AgentError('CONFIG', `outage budget ${budgetSeconds}s: must be whole seconds from 1m to 8760h`);
  }
  if (!(graceRatio - jitter > 0 && graceRatio + jitter < 1)) {
    throw new AgentError('CONFIG', `grace ratio ${graceRatio} ± jitter ${jitter}: must stay strictly between 0 and 1`);
  }
  const marginSeconds = margins.clockSkewSeconds + margins.backoffStepSeconds;
  const floorShare = graceRatio - jitter;
  // The epsilon absorbs float error (0.74 × 59220 must not round down below its exact value).
  const ttlSeconds = Math.ceil((budgetSeconds + marginSeconds) / floorShare / 60 - 1e-9) * 60;
  return {
    budgetSeconds,
    ttlSeconds,
    graceRatio,
    jitter,
    marginSeconds,
    ...outageWindow(ttlSeconds, { graceRatio, jitter }, margins),
    renewEverySeconds: Math.round((1 - graceRatio) * ttlSeconds),
  };
}

const NO_MARGINS: OutageMargins = { clockSkewSeconds: 0, backoffStepSeconds: 0 };

/**
 * The other way round: how long Vault may be unreachable for a given ttl and
 * policy. Without margins, the time from the outage's start to the certificate's
 * expiry; with them, the outage an agent is sure to recover from in time.
 */
export function outageWindow(ttlSeconds: number, policy: { graceRatio: number; jitter: number }, margins: OutageMargins = NO_MARGINS): { worstCaseSeconds: number; bestCaseSeconds: number } {
  const marginSeconds = margins.clockSkewSeconds + margins.backoffStepSeconds;
  const floorShare = Math.max(0, policy.graceRatio - policy.jitter);
  return {
    worstCaseSeconds: Math.floor(floorShare * ttlSeconds + 1e-9) - marginSeconds,
    bestCaseSeconds: ttlSeconds - marginSeconds,
  };
}

/** `12h` → a plan; a one-line CONFIG error naming `what` for anything else. */
export function planForOutageText(text: string | number, what: string, opts: OutageOptions = {}): OutagePlan {
  const seconds = parseDuration(text);
  if (seconds === undefined || seconds < MIN_BUDGET || seconds > MAX_BUDGET) {
    throw new AgentError('CONFIG', `${what} ${JSON.stringify(text)}: must be a duration from 1m to 8760h, like 12h or 3d`);
  }
  return planForOutage(seconds, opts);
}
