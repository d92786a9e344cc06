// The clock the renewal loops run on, injectable so tests can use a fake one.
// Node's setTimeout holds at most 2^31−1 ms (~24.8 days) and fires at once for
// more (TimeoutOverflowWarning): a long wait is armed in steps no longer than
// that, each re-checking the clock, so nothing fires before its time.

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface LongTimer {
  cancel(): void;
}

/** Calls `fn` (always asynchronously) once `timers.now()` reaches `at` (unix ms), however far away; never early. */
export function runAt(timers: Timers, at: number, fn: () => void): LongTimer {
  let handle: unknown;
  let cancelled = false;
  const arm = (): void => {
    const left = Math.max(0, at - timers.now());
    handle = timers.setTimeout(() => {
      if (cancelled) return;
      if (timers.now() >= at) fn();
      else arm();
    }, Math.min(left, MAX_TIMEOUT_MS));
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      timers.clearTimeout(handle);
    },
  };
}
