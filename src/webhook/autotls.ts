// Automatic TLS: keeps the serving certificate fresh and the caBundle current,
// without a restart. A new CA is published one renewal before it is used, so
// the apiserver already trusts it when the first certificate it signed is served.

import type { Logger } from '../log/log.ts';
import { realTimers, runAt, type LongTimer, type Timers } from '../renewal/timers.ts';
import { createCa, issueServing, type Ca, type CertKey } from './tls.ts';

export interface AutoTlsOptions {
  hosts: readonly string[];
  certLifetimeMs: number;
  caLifetimeMs: number;
  /** merges these CA certificates into the published caBundle */
  publish: (caPems: readonly string[]) => Promise<void>;
  /** receives each new serving certificate */
  onServing: (serving: CertKey) => void;
  log: Logger;
  /** how often to check that the caBundle still holds our CAs (someone may have overwritten it); default 60 s */
  recheckMs?: number;
  /** the renewal clock; a fake one in tests */
  timers?: Timers;
}

export interface AutoTls {
  /** the first serving certificate, ready before the server starts */
  initial: CertKey;
  stop(): void;
}

/** Renew a serving certificate at two thirds of its lifetime (as kubelet does). */
const RENEW_AT = 2 / 3;
const RETRY_MS = 5_000;

export async function startAutoTls(opts: AutoTlsOptions): Promise<AutoTls> {
  const { log } = opts;
  const newCa = (): Promise<Ca> => createCa({ commonName: `vault-pki-agent webhook CA ${process.pid}-${Date.now()}`, lifetimeMs: opts.caLifetimeMs });
  let active = await newCa();
  let next: Ca | undefined;
  let stopped = false;
  const timers = opts.timers ?? realTimers;
  let timer: LongTimer | undefined;

  const publishUntilDone = async (cas: Ca[]): Promise<void> => {
    for (;;) {
      try {
        await opts.publish(cas.map((c) => c.certPem));
        log.info({ notAfter: cas.map((c) => c.notAfter.toISOString()) }, 'caBundle published');
        return;
      } catch (err) {
        if (stopped) return;
        log.warn({ err: (err as Error).message }, `publishing the caBundle failed; retrying in ${RETRY_MS / 1000}s`);
        await new Promise((r) => setTimeout(r, RETRY_MS));
      }
    }
  };
  await publishUntilDone([active]);
  const initial = await issueServing(active, { hosts: opts.hosts, lifetimeMs: opts.certLifetimeMs });

  const schedule = (serving: CertKey): void => {
    if (stopped) return;
    // runAt, not setTimeout: 2/3 of a lifetime ≥ ~895 h is past setTimeout's limit, which would fire at once.
    const lifetime = serving.notAfter.getTime() - timers.now();
    timer = runAt(timers, timers.now() + Math.max(250, lifetime * RENEW_AT), () => void renew());
  };

  const renew = async (): Promise<void> => {
    try {
      if (next) {
        active = next;
        next = undefined;
      }
      // Too little CA life left for two more certificates: publish its successor now, use it next time.
      if (active.notAfter.getTime() - timers.now() < 2 * opts.certLifetimeMs) {
        next = await newCa();
        await opts.publish([active.certPem, next.certPem]);
        log.info({ notAfter: next.notAfter.toISOString() }, 'next webhook CA published');
      }
      const serving = await issueServing(active, { hosts: opts.hosts, lifetimeMs: opts.certLifetimeMs });
      opts.onServing(serving);
      log.info({ notAfter: serving.notAfter.toISOString() }, 'serving certificate renewed');
      schedule(serving);
    } catch (err) {
      log.error({ err: (err as Error).message }, `renewing the serving certificate failed; retrying in ${RETRY_MS / 1000}s`);
      if (!stopped) timer = runAt(timers, timers.now() + RETRY_MS, () => void renew());
    }
  };
  schedule(initial);

  // A GitOps tool re-applying the chart's manifest can wipe the caBundle: put our CAs back (a read; a write only if missing).
  const recheck = setInterval(() => {
    opts.publish([active, ...(next ? [next] : [])].map((c) => c.certPem)).catch((err: unknown) => {
      log.warn({ err: (err as Error).message }, 'checking the caBundle failed; will retry');
    });
  }, opts.recheckMs ?? 60_000);
  recheck.unref();

  return {
    initial,
    stop: () => {
      stopped = true;
      timer?.cancel();
      clearInterval(recheck);
    },
  };
}
