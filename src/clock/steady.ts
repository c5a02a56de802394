import type { Clock } from './clock.js';
import { systemClock } from './system.js';

/**
 * `clock.now()` for measuring leases: with the system clock, a monotonic
 * reading (anchored at the epoch once), so that a step of the wall clock
 * (NTP, an operator) neither lengthens nor shortens a measured interval;
 * with any other clock (the manual clock of tests), that clock's own time.
 */
export function steadyNow(clock: Clock): () => number {
  if (clock !== systemClock) return () => clock.now();
  const base = Date.now() - performance.now();
  return () => base + performance.now();
}
