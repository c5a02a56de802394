import { BinaryHeap } from '../heap.js';
import { type Clock, repeatWithTimers, type Timer, sleepWithTimer, timerDelay } from './clock.js';

const noop = (): void => undefined;

interface Pending {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to. `advance(ms)` fires every timer due in
 * that span in time order (ties in the order they were set), setting `now()`
 * to each timer's due time before calling it, and lets the event loop turn
 * between timers so promise continuations (an `await clock.sleep()` waking
 * up, then scheduling its next sleep) run before the next timer fires.
 *
 * Timers live in a binary heap: the simulator keeps tens of thousands of them.
 */
export class ManualClock implements Clock {
  private current: number;
  private readonly heap = new BinaryHeap<Pending>((a, b) => a.due < b.due || (a.due === b.due && a.seq < b.seq));
  private seq = 0;

  /** @param start epoch ms to start at; defaults to 2026-01-01T00:00:00Z so logs read sensibly. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepWithTimer(this, ms, signal);
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry: Pending = { due: this.current + timerDelay(ms), seq: this.seq++, fn, cancelled: false };
    this.heap.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
        // The entry stays in the heap until it comes due: let go of what the callback holds now.
        entry.fn = noop;
      },
    };
  }

  setRepeatingTimer(ms: number, fn: () => void): Timer {
    return repeatWithTimers(this, Math.max(1, timerDelay(ms)), fn);
  }

  /** Number of live (not cancelled) timers: lets a test assert that a component cleaned up. */
  pendingTimers(): number {
    return this.heap.values().filter((t) => !t.cancelled).length;
  }

  /** Due time of the earliest live timer, or undefined. */
  nextTimerAt(): number | undefined {
    this.dropCancelledHead();
    return this.heap.peek()?.due;
  }

  /**
   * Moves time forward by `ms`, firing due timers in order with event-loop
   * turns in between, and ends with `now()` exactly `ms` later.
   */
  async advance(ms: number): Promise<void> {
    await this.advanceTo(this.current + ms);
  }

  /** Like `advance`, to an absolute time (never backwards). */
  async advanceTo(target: number): Promise<void> {
    await settle();
    for (;;) {
      this.dropCancelledHead();
      const next = this.heap.peek();
      if (!next || next.due > target) break;
      this.heap.pop();
      this.current = Math.max(this.current, next.due);
      next.fn();
      await settle();
    }
    this.current = Math.max(this.current, target);
    await settle();
  }

  /**
   * Fires timers until none is left or `limitMs` of simulated time has
   * passed; returns the time reached. For simulations that run to quiescence.
   */
  async runAll(limitMs = Number.MAX_SAFE_INTEGER): Promise<number> {
    const end = this.current + limitMs;
    for (;;) {
      const next = this.nextTimerAt();
      if (next === undefined || next > end) break;
      await this.advanceTo(next);
    }
    return this.current;
  }

  /**
   * The simulator's drive: like `advanceTo(target)`, but built for millions
   * of timers. Every timer due at one instant fires (in order, each still
   * skipped if an earlier one cancelled it) before the event loop turns.
   * Then the loop turns at least `turns` times, and more while someone else
   * has a `setImmediate` pending (at most 16 turns), instead of the fixed
   * four `advanceTo` gives each timer: so work that yields with setImmediate
   * (the scheduler between back-to-back passes) still happens at this
   * instant, and a turn is not paid for when nobody needs it. Returns the
   * number of timers fired.
   */
  async runTo(target: number, turns = 1): Promise<number> {
    let fired = 0;
    for (;;) {
      this.dropCancelledHead();
      const first = this.heap.peek();
      if (!first || first.due > target) break;
      const due = first.due;
      this.current = Math.max(this.current, due);
      for (;;) {
        this.dropCancelledHead();
        const next = this.heap.peek();
        if (!next || next.due !== due) break;
        this.heap.pop();
        fired++;
        next.fn();
      }
      await settleWhileBusy(turns);
    }
    this.current = Math.max(this.current, target);
    await settleWhileBusy(turns);
    return fired;
  }

  private dropCancelledHead(): void {
    while (this.heap.peek()?.cancelled) this.heap.pop();
  }
}

/**
 * Lets pending promise continuations run: a few macrotask turns, each of
 * which drains the microtask queue. Chains of awaits that do no real I/O
 * finish within these turns.
 */
export async function settle(turns = 4): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** At least `min` event-loop turns, then more while another setImmediate is pending (16 at most). */
async function settleWhileBusy(min: number): Promise<void> {
  for (let i = 1; i <= 16; i++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (i >= min && !process.getActiveResourcesInfo().includes('Immediate')) return;
  }
}
