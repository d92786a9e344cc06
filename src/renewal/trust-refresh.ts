// The bundle refresh: root-cert.pem follows the root mount between renewals,
// so a new root reaches every workload before anything is issued from it and
// a retired one leaves without waiting for a renewal. One unauthenticated
// read per interval at idle; the files are rewritten only on a real change.

import { certificates, isSelfSigned, uniqueCertificates } from '../certs/pem.ts';
import type { Bundle } from '../certs/bundle.ts';
import type { Logger } from '../log/log.ts';
import { runAt, type LongTimer, type Timers } from './timers.ts';

/** ±10%: agents started together (a rollout) must not all read Vault in the same second. */
const JITTER = 0.1;

/**
 * `b` with its roots replaced by `freshPem`, or undefined when that is the
 * set `b` already has. The root the certificate's own chain ends in is kept
 * first, as at issuance (same order, so an unchanged mount compares equal),
 * and so that the set on disk always verifies.
 */
export function withRoots(b: Bundle, freshPem: string): Bundle | undefined {
  const top = b.intermediates.at(-1) ?? b.leaf;
  const own = b.roots.filter((r) => top.checkIssued(r) && top.verify(r.publicKey));
  const roots = uniqueCertificates([...own, ...certificates(freshPem).filter(isSelfSigned)]);
  const same = roots.length === b.roots.length && roots.every((r, i) => r.fingerprint256 === b.roots[i]!.fingerprint256);
  return same ? undefined : { ...b, roots };
}

export interface TrustRefresher {
  refreshTrust(): Promise<boolean>;
}

/** Calls `agent.refreshTrust()` every `intervalMs` (jittered) until stopped; a failed read is logged and retried next time. */
export function keepTrustFresh(agent: TrustRefresher, o: { intervalMs: number; timers: Timers; random?: () => number; log: Logger }): { stop(): void } {
  const random = o.random ?? Math.random;
  let timer: LongTimer | undefined;
  let stopped = false;
  const arm = () => {
    if (stopped) return;
    const delay = o.intervalMs * (1 - JITTER + 2 * JITTER * random());
    timer = runAt(o.timers, o.timers.now() + delay, () => {
      agent
        .refreshTrust()
        .catch((err) => o.log.warn({ err: (err as Error).message }, 'trust bundle refresh failed; keeping root-cert.pem as it is'))
        .finally(arm);
    });
  };
  arm();
  return {
    stop() {
      stopped = true;
      timer?.cancel();
    },
  };
}
