/**
 * BootTimes: how long an instance of each type takes from the create call
 * to ready for containers, learnt from the pool's events: the median of the
 * recent boots of that type, else of every type, else a default.
 */
import type { PoolEvent } from '../worker/pool.js';
import { RecentSample, type Spread } from './stats.js';

export const DEFAULT_BOOT_MS = 3 * 60_000;

/** Boots remembered at most while waiting for their second event. */
const MAX_PENDING = 10_000;

export class BootTimes {
  private readonly byType = new Map<string, RecentSample>();
  private readonly all = new RecentSample(200);
  /** Instance id -> (type, create to SSH), between the two events. */
  private readonly pending = new Map<string, { type: string; sshMs: number }>();

  constructor(
    private readonly defaultMs = DEFAULT_BOOT_MS,
    private readonly sampleSize = 20,
  ) {}

  /** An instance of `type` took `ms` from create to ready. */
  record(type: string, ms: number): void {
    if (!(ms >= 0)) return;
    let s = this.byType.get(type);
    if (!s) this.byType.set(type, (s = new RecentSample(this.sampleSize)));
    s.add(ms);
    this.all.add(ms);
  }

  /**
   * Feeds a pool event. A boot is reported in two parts (create to SSH, SSH
   * to ready); `typeOf` names the instance's type, or undefined if the pool
   * no longer knows it (then the boot is not learnt).
   */
  observe(event: PoolEvent, typeOf: (instanceId: string) => string | undefined): void {
    if (event.type === 'sshConnected') {
      const type = typeOf(event.instanceId);
      if (type === undefined) return;
      if (this.pending.size >= MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
      this.pending.set(event.instanceId, { type, sshMs: event.sinceAppearedMs });
    } else if (event.type === 'readyForContainer') {
      const p = this.pending.get(event.instanceId);
      if (!p) return;
      this.pending.delete(event.instanceId);
      this.record(p.type, p.sshMs + event.sinceSshMs);
    }
  }

  /** Expected create-to-ready time of `type`, ms: the median (typical) and p10/p90 of its recent boots. */
  estimate(type: string): Spread {
    const s = this.byType.get(type);
    if (s && s.count > 0) return s.spread();
    if (this.all.count > 0) return this.all.spread();
    return { typical: this.defaultMs, low: this.defaultMs, high: this.defaultMs };
  }
}
