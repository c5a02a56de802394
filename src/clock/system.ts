import { type Clock, type Timer, sleepWithTimer } from './clock.js';

/**
 * The real clock. Timers are unref'd so that a pending timer never keeps the
 * process alive on its own: the daemon's lifetime is decided by its servers
 * and its `stop()`, not by a leftover retry timer.
 */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWithTimer(this, ms, signal);
  }

  setTimer(ms: number, fn: () => void): Timer {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  }

  setRepeatingTimer(ms: number, fn: () => void): Timer {
    const handle = setInterval(fn, Math.max(1, ms));
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  }
}

/** The process-wide real clock. */
export const systemClock: Clock = new SystemClock();

/**
 * Keeps the process alive until the returned function is called: the
 * counterpart of the unref'd timers above, for a daemon whose lifetime is
 * "until a signal" and which may have nothing else holding the event loop
 * open (signal listeners do not). Calling the release function twice is
 * harmless.
 */
export function holdProcessOpen(): () => void {
  const handle = setInterval(() => undefined, 1 << 30);
  return () => clearInterval(handle);
}
