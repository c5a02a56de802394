/**
 * Time, injected. Every component gets a Clock instead of calling the
 * platform's timers, so unit tests can step time exactly and the simulator
 * can run a day of cluster life in seconds (DESIGN.md, rule 1).
 */

/** A scheduled callback; `cancel()` is idempotent and harmless after it fired. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /**
   * Resolves after `ms` milliseconds. If `signal` aborts first, rejects with
   * the signal's reason (an `AbortError` DOMException unless the caller gave
   * another) and releases the timer at once.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` once after `ms` milliseconds unless cancelled first. */
  setTimer(ms: number, fn: () => void): Timer;
  /** Calls `fn` every `ms` milliseconds until cancelled. */
  setRepeatingTimer(ms: number, fn: () => void): Timer;
}

/** The longest delay Node's timers take as given (2^31 - 1 ms, about 24.8 days); they fire a longer one after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A timer's delay as every clock takes it: less than 0, or NaN (a duration
 * nobody set, 0/0), as 0, which is what setTimeout makes of them, and
 * Infinity as never. The manual clock and the real one then agree.
 */
export function timerDelay(ms: number): number {
  return Number.isNaN(ms) || ms < 0 ? 0 : ms;
}

/** A repeating timer made of one-shot timers, each armed when the last fires. */
export function repeatWithTimers(clock: Pick<Clock, 'setTimer'>, period: number, fn: () => void): Timer {
  let inner: Timer;
  let cancelled = false;
  const arm = (): void => {
    inner = clock.setTimer(period, () => {
      if (cancelled) return;
      arm();
      fn();
    });
  };
  arm();
  return {
    cancel: () => {
      cancelled = true;
      inner.cancel();
    },
  };
}

/** The current time as a `Date`, for records and logs. */
export function nowDate(clock: Clock): Date {
  return new Date(clock.now());
}

/** Shared by both clocks: a sleep built on `setTimer`, honouring an AbortSignal. */
export function sleepWithTimer(clock: Pick<Clock, 'setTimer'>, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      timer.cancel();
      reject(abortReason(signal!));
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Resolves or rejects as `p` does, or rejects with the signal's reason once
 * it aborts: lets `stop()` return without waiting for a slow call. Unlike a
 * race with one long-lived "aborted" promise, it leaves nothing behind on
 * the signal once `p` settles, so a loop may call it forever.
 */
export function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** True for the rejection `sleep` gives when its signal aborts without a custom reason. */
export function isAbortError(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
