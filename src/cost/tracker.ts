/**
 * Keeps a CostLedger up to date with the pool: it observes after every pool
 * change (a VM created, gone, a container started or ended), when a destroy
 * call succeeds (the dispatcher calls `sync` on that pool event), once a minute
 * (so spot price changes are charged from about when they happen), and
 * before every read (metrics, management API, status page).
 *
 * The changes of one moment come in bursts (a pass starting ten containers,
 * their starts answering one after another), so a change marks the ledger
 * stale and one observation follows at the end of the event loop's turn
 * (`setImmediate`). The time between is nil on the simulator's clock, which
 * lets the loop turn before it moves, and microseconds on the system clock:
 * the ledger charges what it would with one observation per change, with
 * about 40 % fewer snapshots (`workflow.json`). A read in the meantime
 * observes at once.
 */
import type { Clock, Timer } from '../clock/index.js';
import type { BillingRule } from './billing.js';
import { CostLedger, type CostVm } from './ledger.js';

/** The little the tracker needs from the pool (`WorkerPoolImpl`). */
export interface CostSource {
  costSnapshot(): CostVm[];
  subscribe(listener: () => void): () => void;
}

/** How often prices are re-read when nothing in the pool changes. */
export const COST_REFRESH_MS = 60_000;

/** How stale a read may find the ledger, ms. */
const READ_FRESH_MS = 1_000;

export class CostTracker {
  readonly ledger: CostLedger;
  private unsubscribe: (() => void) | undefined;
  private timer: Timer | undefined;
  private lastSync = -Infinity;
  private stopped = false;
  /** A pool change has not been observed yet. */
  private stale = false;

  /**
   * @param weightOf a container's VCPUs (the split's weight), when known.
   * @param billingOf an instance type's billing rule (`billing.ts`), when it has one.
   */
  constructor(
    private readonly pool: CostSource,
    private readonly clock: Clock,
    weightOf?: (uuid: string) => number | undefined,
    billingOf?: (instanceType: string) => BillingRule | undefined,
  ) {
    this.ledger = new CostLedger({ ...(weightOf ? { weightOf } : {}), ...(billingOf ? { billingOf } : {}) });
  }

  start(): void {
    if (this.unsubscribe) return;
    this.unsubscribe = this.pool.subscribe(() => this.changed());
    this.timer = this.clock.setRepeatingTimer(COST_REFRESH_MS, () => this.sync());
    this.sync();
  }

  /** Charges up to now one last time; reads after this see the ledger as it was at the stop. */
  stop(): void {
    if (this.unsubscribe) this.sync();
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.timer?.cancel();
    this.timer = undefined;
  }

  /**
   * Charges up to now and returns the ledger. Reads within a second of the
   * last observation take the ledger as it is, unless the pool changed
   * since: a list of a thousand instances, each asking its cost, must not
   * take a thousand snapshots.
   */
  read(): CostLedger {
    if (!this.stopped && (this.stale || this.clock.now() - this.lastSync >= READ_FRESH_MS)) this.sync();
    return this.ledger;
  }

  private changed(): void {
    if (this.stale) return;
    this.stale = true;
    setImmediate(() => {
      if (this.stale) this.sync();
    });
  }

  /** Observes the pool now: for changes the pool's notifications do not cover (a destroy call that succeeded). */
  sync(): void {
    if (this.stopped) return;
    this.stale = false;
    this.lastSync = this.clock.now();
    this.ledger.observe(this.lastSync, this.pool.costSnapshot());
  }
}
