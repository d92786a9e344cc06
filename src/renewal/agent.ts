// The agent's life: reuse or obtain a credential set, write it atomically, then
// (run) renew it at the grace point, retrying with backoff while the old files
// stay in place. `init` is the same code stopped after the first write.

import type { Logger } from '../log/log.ts';
import { assembleBundle, problems, type Bundle } from '../certs/bundle.ts';
import { withRoots } from './trust-refresh.ts';
import { AgentError } from '../errors.ts';
import type { AgentMetrics } from '../metrics/agent-metrics.ts';
import { commitSet, readSet, setIntact, type WriteOptions } from '../output/atomic-writer.ts';
import { HookTimeout, reload, type ReloadConfig } from '../output/reload.ts';
import { render, type Layout, type RenderedFile } from '../output/templates.ts';
import { backoffDelay, renewAt, stillFresh, type RenewalPolicy } from './schedule.ts';
import { expectedSpiffeId, obtain, type ObtainOptions } from './obtain.ts';
import { realTimers, runAt, type LongTimer, type Timers } from './timers.ts';

export { realTimers, type Timers } from './timers.ts';

export interface AgentOptions {
  obtain: Omit<ObtainOptions, 'now'>;
  /** PEM of the roots Vault trusts now (unauthenticated read), for deciding reuse at start */
  trustedRoots: () => Promise<string>;
  layout: Layout;
  outDir: string;
  write: WriteOptions;
  policy: RenewalPolicy;
  reload: ReloadConfig;
  log: Logger;
  metrics: AgentMetrics;
  timers?: Timers;
  random?: () => number;
  /** test hooks: events instead of sleeps */
  onWritten?: (b: Bundle, why: 'issued' | 'reused' | 'healed' | 'trust') => void;
}

export type AgentState = 'unwritten' | 'written' | 'failing';

export class Agent {
  state: AgentState = 'unwritten';
  current: Bundle | undefined;
  /**
   * When the current certificate's lifetime starts for renewal purposes.
   * Vault backdates notBefore (not_before_duration, 30 s by default) against
   * clock skew; counted into the lifetime, a 30 s certificate would be due the
   * moment it arrives. So for one we obtained, the lifetime starts on receipt;
   * for one found on disk, at notBefore (its receipt is unknown).
   */
  private validFrom: Date | undefined;
  private files: RenderedFile[] = [];
  private timer: LongTimer | undefined;
  private attempt = 0;
  private stopped = false;
  private busy: Promise<unknown> = Promise.resolve();
  /** the reload hook in progress, and whether another rotation happened meanwhile */
  private hook: Promise<void> | undefined;
  private hookAgain = false;
  private readonly stopping = new AbortController();
  private readonly o: AgentOptions;
  private readonly timers: Timers;
  private readonly random: () => number;

  constructor(o: AgentOptions) {
    this.o = o;
    this.timers = o.timers ?? realTimers;
    this.random = o.random ?? Math.random;
  }

  /** Ready: a certificate we wrote (or verified) is on disk and not expired. */
  ready(): boolean {
    return this.current !== undefined && this.timers.now() < this.current.notAfter.getTime();
  }

  /** First write: reuse a sound, fresh set already on disk, else obtain one. Throws on failure. */
  async first(): Promise<Bundle> {
    const reused = await this.reuse();
    if (reused) return reused;
    return this.renew();
  }

  /** Keeps renewing until stop(). Call after first(), or instead of it to start with retries. */
  keepFresh(): void {
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(); // a hook still running is killed, not left behind
    this.timer?.cancel();
    await this.busy.catch(() => undefined); // a commit in progress finishes: never a partial set
  }

  /** Rewrites the current set from memory if the files on disk no longer match it (deleted, edited). */
  async heal(): Promise<boolean> {
    if (!this.current || this.stopped) return false;
    return this.serialize(async () => {
      if (await setIntact(this.o.outDir, this.files, this.o.write)) return false;
      await commitSet(this.o.outDir, this.files, this.o.write);
      this.o.metrics.rewrites.inc();
      this.o.log.warn({ outDir: this.o.outDir }, 'credential files changed on disk; rewrote them from memory (no new issuance)');
      this.o.onWritten?.(this.current!, 'healed');
      return true;
    });
  }

  /**
   * Re-reads the roots Vault trusts and, only when the set differs from the
   * one on disk, rewrites the files (same certificate and key) and runs the
   * reload hook: a root added or retired reaches the workload before any
   * certificate chained to it does. True when it rewrote.
   */
  async refreshTrust(): Promise<boolean> {
    if (!this.current || this.stopped) return false;
    const fresh = await this.o.trustedRoots();
    // Vault unreachable or the mount unreadable: keep what we have, never shrink to nothing.
    if (!fresh) return false;
    return this.serialize(async () => {
      const b = this.current;
      if (!b || this.stopped) return false;
      const next = withRoots(b, fresh);
      if (!next) return false;
      const files = render(this.o.layout, next);
      await commitSet(this.o.outDir, files, this.o.write);
      this.current = next;
      this.files = files;
      this.o.metrics.trustRoots.set(next.roots.length);
      this.o.metrics.trustChanges.inc();
      this.o.log.info({ roots: next.roots.length, serial: next.serial }, 'trust bundle changed; rewrote root-cert.pem (same certificate and key)');
      this.o.onWritten?.(next, 'trust');
      this.startReload();
      return true;
    });
  }

  /** Retry now instead of at the end of the backoff (the token file changed, say); true if it will. */
  nudge(): boolean {
    if (this.state !== 'failing' || this.stopped) return false;
    this.timer?.cancel();
    this.timer = runAt(this.timers, this.timers.now(), () => void this.tick());
    return true;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.busy.then(fn, fn);
    this.busy = next.catch(() => undefined);
    return next;
  }

  private async reuse(): Promise<Bundle | undefined> {
    const onDisk = await readSet(this.o.outDir, this.o.layout.files.keys());
    if (onDisk.size === 0) return undefined;
    try {
      const id = await expectedSpiffeId(this.o.obtain);
      // Trust what Vault vouches for now (the rule of a fresh issue, src/vault/roots.ts),
      // not the roots saved next to the old certificate: after a CA change a
      // certificate chained to the old root is not reused.
      // (When Vault cannot be asked, the saved roots are all there is.)
      const current = await this.o.trustedRoots();
      const b = assembleBundle({ pemText: [...onDisk.values()].join('\n'), trustedRoots: current });
      const now = new Date(this.timers.now());
      const found = problems(b, { expectedId: id, now });
      if (found.length || !stillFresh(b, this.o.policy, now)) {
        this.o.log.info({ reasons: found.map((p) => p.message), notAfter: b.notAfter }, 'certificate on disk not reusable; obtaining a new one');
        return undefined;
      }
      await this.accept(b, 'reused', b.notBefore);
      this.o.log.info({ serial: b.serial, notAfter: b.notAfter, spiffeId: b.spiffeId }, 'reusing the still-valid certificate on disk');
      return b;
    } catch (err) {
      if (err instanceof AgentError && err.code === 'TOKEN_FILE') throw err;
      this.o.log.info({ reason: (err as Error).message }, 'files on disk are not a usable credential set; obtaining a new one');
      return undefined;
    }
  }

  private async renew(): Promise<Bundle> {
    const b = await obtain({ ...this.o.obtain, now: () => new Date(this.timers.now()) });
    const received = new Date(this.timers.now());
    await this.accept(b, 'issued', received > b.notBefore ? received : b.notBefore);
    return b;
  }

  /** Renders and commits `b` (unless reused unchanged), then records it as current. */
  private accept(b: Bundle, why: 'issued' | 'reused', validFrom: Date): Promise<void> {
    return this.serialize(async () => {
      const files = render(this.o.layout, b);
      if (why === 'issued' || !(await setIntact(this.o.outDir, files, this.o.write))) {
        await commitSet(this.o.outDir, files, this.o.write);
      }
      const rotated = this.current !== undefined;
      this.current = b;
      this.validFrom = validFrom;
      this.files = files;
      this.state = 'written';
      this.attempt = 0;
      this.o.metrics.certExpiry.set(b.notAfter.getTime() / 1000);
      this.o.metrics.trustRoots.set(b.roots.length);
      if (why === 'issued') this.o.metrics.renewals.inc({ result: 'success' });
      this.o.log.info({ serial: b.serial, spiffeId: b.spiffeId, notAfter: b.notAfter, why }, 'credentials written');
      this.o.onWritten?.(b, why);
      if (rotated && why === 'issued') this.startReload();
    });
  }

  /**
   * Runs the reload hook outside the serialized chain: a slow or hanging hook
   * must never hold back the next renewal. Rotations during a run coalesce
   * into one more run, so hooks never pile up.
   */
  private startReload(): void {
    if (this.hook) {
      this.hookAgain = true;
      return;
    }
    this.hook = (async () => {
      do {
        this.hookAgain = false;
        await this.runReload();
      } while (this.hookAgain && !this.stopped);
    })().finally(() => (this.hook = undefined));
  }

  private async runReload(): Promise<void> {
    try {
      const outcome = await reload(this.o.reload, this.stopping.signal);
      if (outcome) {
        this.o.metrics.reloadHooks.inc({ result: 'success' });
        this.o.log.info({ outcome }, 'reload hook done');
      }
    } catch (err) {
      this.o.metrics.reloadHooks.inc({ result: err instanceof HookTimeout ? 'timeout' : 'failure' });
      this.o.log.error({ err: (err as Error).message }, 'reload hook failed; the new files are in place');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const now = this.timers.now();
    let at: number;
    if (this.state === 'written' && this.current) {
      at = renewAt({ notBefore: this.validFrom ?? this.current.notBefore, notAfter: this.current.notAfter }, this.o.policy, this.random()).getTime();
    } else {
      at = now + backoffDelay(this.attempt, this.random());
      // One last try just before the old certificate runs out, rather than after it.
      const lastChance = this.current ? this.current.notAfter.getTime() - 1_000 : 0;
      if (lastChance > now) at = Math.min(at, lastChance);
    }
    this.o.metrics.nextRenewal.set(at / 1000);
    this.timer = runAt(this.timers, at, () => void this.tick());
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.renew();
    } catch (err) {
      this.state = 'failing';
      this.o.metrics.renewals.inc({ result: 'failure' });
      const code = err instanceof AgentError ? err.code : 'RUNTIME';
      this.o.log.error({ code, err: (err as Error).message, attempt: this.attempt, keptNotAfter: this.current?.notAfter }, 'renewal failed; keeping the current files and retrying');
      this.attempt++;
    }
    this.schedule();
  }
}
